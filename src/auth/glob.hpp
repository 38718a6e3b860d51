#pragma once
// Glob matching as Redis's stringmatchlen (util.c), which ACL key patterns (`~user:*`) use:
// `*` any run, `?` any byte, `[abc]`, `[^a-z]` classes, `\x` the byte x. Case-sensitive,
// byte-wise. Pure.

#include <string_view>

namespace readthru::auth {

// Whether `text` matches `pattern` as a whole. Worst case O(|pattern| * |text|): a `*` is
// retried at most once per byte of text, never recursively.
bool globMatch(std::string_view pattern, std::string_view text);

}  // namespace readthru::auth
