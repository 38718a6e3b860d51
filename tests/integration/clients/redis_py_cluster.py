"""redis-py's cluster client, pointed at readthru, must work unchanged.

Run by clients_test.cpp as: /usr/bin/python3 redis_py_cluster.py PORT
Prints "ok" on success; any failure raises (non-zero exit and a traceback).
"""
import sys

from redis.cluster import ClusterNode, RedisCluster

port = int(sys.argv[1])
rc = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", port)], decode_responses=True)

# The client learned the one-node view: readthru owns every slot.
assert [n.name for n in rc.get_nodes()] == [f"127.0.0.1:{port}"], rc.get_nodes()

keys = [f"pycluster:{i}" for i in range(300)]
for i, k in enumerate(keys):
    assert rc.set(k, i)
# redis-py refuses a cross-slot MGET itself; its non-atomic form splits by slot, and all
# slots lead to readthru, which splits again across the real cluster.
assert rc.mget_nonatomic(keys) == [str(i) for i in range(len(keys))]
pipe = rc.pipeline()
for k in keys:
    pipe.incr(k)
assert pipe.execute() == [i + 1 for i in range(len(keys))]
assert rc.delete(*keys) == len(keys)
assert rc.get(keys[0]) is None
print("ok")
