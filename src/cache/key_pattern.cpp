#include "cache/key_pattern.hpp"

#include <algorithm>
#include <cctype>
#include <deque>
#include <set>
#include <utility>

namespace readthru::cache {
namespace {

constexpr char kSeparator = ':';

bool nameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool nameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

Error errorAt(std::string_view what, std::size_t index) {
  return Error{std::string(what) + " at column " + std::to_string(index + 1)};
}

}  // namespace

Result<KeyPattern> KeyPattern::compile(std::string_view text) {
  KeyPattern p;
  p.text_ = std::string(text);
  if (text.empty()) return Error{"pattern is empty"};
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '>') return errorAt("'>' without '<'", i);
    if (text[i] != '<') {
      if (p.tokens_.empty() || p.tokens_.back().capture) p.tokens_.push_back({false, {}});
      p.tokens_.back().literal.push_back(text[i++]);
      continue;
    }
    const std::size_t close = text.find('>', i + 1);
    if (close == std::string_view::npos) return errorAt("'<' without '>'", i);
    const std::string_view name = text.substr(i + 1, close - i - 1);
    if (name.empty()) return errorAt("capture name missing", i);
    if (!nameStart(name[0]) || !std::all_of(name.begin(), name.end(), nameChar)) {
      return errorAt("capture name '" + std::string(name) +
                         "' must be letters, digits and '_', not starting with a digit",
                     i);
    }
    if (std::find(p.names_.begin(), p.names_.end(), name) != p.names_.end()) {
      return errorAt("capture <" + std::string(name) + "> used twice", i);
    }
    if (!p.tokens_.empty() && p.tokens_.back().capture) {
      return errorAt("two captures touch; put literal text between them", i);
    }
    p.tokens_.push_back({true, {}});
    p.names_.emplace_back(name);
    i = close + 1;
  }
  return p;
}

std::string KeyPattern::render(const std::vector<std::string_view>& values) const {
  std::string out;
  std::size_t next = 0;
  for (const Token& t : tokens_) {
    if (!t.capture) {
      out += t.literal;
    } else if (next < values.size()) {
      out += values[next++];
    }
  }
  return out;
}

std::string KeyPattern::glob() const {
  std::string out;
  for (const Token& t : tokens_) {
    if (t.capture) {
      out.push_back('*');
      continue;
    }
    for (char c : t.literal) {
      if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
  }
  return out;
}

bool KeyPattern::match(std::string_view key, std::vector<std::string_view>& captures) const {
  captures.clear();
  return matchFrom(0, key, captures);
}

// Literals must match exactly; a capture takes one or more non-separator characters, as
// few as the rest of the pattern allows (backtracking over where it ends).
bool KeyPattern::matchFrom(std::size_t token, std::string_view rest,
                           std::vector<std::string_view>& captures) const {
  if (token == tokens_.size()) return rest.empty();
  const Token& t = tokens_[token];
  if (!t.capture) {
    if (!rest.starts_with(t.literal)) return false;
    return matchFrom(token + 1, rest.substr(t.literal.size()), captures);
  }
  const std::size_t segment = std::min(rest.find(kSeparator), rest.size());
  for (std::size_t len = 1; len <= segment; ++len) {
    captures.push_back(rest.substr(0, len));
    if (matchFrom(token + 1, rest.substr(len), captures)) return true;
    captures.pop_back();
  }
  return false;
}

// ---------------------------------------------------------------------------------------
// Overlap: is the intersection of two such languages empty? Each pattern is an automaton
// whose states are (atom, inside-a-capture); a breadth-first walk over pairs of states
// looks for a character both can take at each step, and succeeds when both accept.

namespace {

struct Atom {
  bool segment;  // a capture: one or more non-separator characters
  char c;        // a literal character, when !segment
};

std::vector<Atom> atomsOf(const std::string& text) {
  std::vector<Atom> atoms;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '<') {
      atoms.push_back({true, 0});
      i = text.find('>', i);
    } else {
      atoms.push_back({false, text[i]});
    }
  }
  return atoms;
}

struct State {
  std::size_t atom;
  bool inside;  // consumed at least one character of the capture at `atom`
  auto operator<=>(const State&) const = default;
};

// What a state can consume next: a literal, or "any non-separator" (c == 0), and where to.
struct Move {
  bool any;
  char c;
  State to;
};

std::vector<State> closure(State s) {
  // Inside a capture, the capture may end here without consuming more.
  if (s.inside) return {s, State{s.atom + 1, false}};
  return {s};
}

std::vector<Move> moves(const std::vector<Atom>& atoms, State s) {
  if (s.atom >= atoms.size()) return {};
  const Atom& a = atoms[s.atom];
  if (!a.segment) return {Move{false, a.c, State{s.atom + 1, false}}};
  return {Move{true, 0, State{s.atom, true}}};
}

bool accepts(const std::vector<Atom>& atoms, State s) {
  return s.atom == atoms.size() && !s.inside;
}

bool compatible(const Move& x, const Move& y) {
  if (x.any && y.any) return true;
  if (x.any) return y.c != kSeparator;
  if (y.any) return x.c != kSeparator;
  return x.c == y.c;
}

}  // namespace

bool KeyPattern::overlaps(const KeyPattern& a, const KeyPattern& b) {
  const auto atoms_a = atomsOf(a.text_);
  const auto atoms_b = atomsOf(b.text_);
  std::set<std::pair<State, State>> seen;
  std::deque<std::pair<State, State>> todo;
  auto visit = [&](State x, State y) {
    for (State cx : closure(x)) {
      for (State cy : closure(y)) {
        if (seen.insert({cx, cy}).second) todo.emplace_back(cx, cy);
      }
    }
  };
  visit(State{0, false}, State{0, false});
  while (!todo.empty()) {
    const auto [x, y] = todo.front();
    todo.pop_front();
    if (accepts(atoms_a, x) && accepts(atoms_b, y)) return true;
    for (const Move& mx : moves(atoms_a, x)) {
      for (const Move& my : moves(atoms_b, y)) {
        if (compatible(mx, my)) visit(mx.to, my.to);
      }
    }
  }
  return false;
}

}  // namespace readthru::cache
