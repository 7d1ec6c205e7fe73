// The encoding: a version byte, then the root table. A table is its entry count, then each
// entry as key (length, bytes), line, column and value; a value is a tag byte and its data.
// Counts, lengths and positions are unsigned LEB128, integers zigzag LEB128, floats their 8
// bytes as an unsigned 64-bit LEB128 of the bit pattern.
#include "config/definition_tree.h"

#include <bit>
#include <cstdint>
#include <cstring>

namespace skedd::config {

namespace {

constexpr char kVersion = 1;
constexpr int kMaxDepth = 64;  // a corrupt tree cannot recurse the stack away

enum Tag : char {
  kString = 's',
  kInteger = 'i',
  kFloat = 'f',
  kTrue = 'T',
  kFalse = 'F',
  kDate = 'd',
  kTime = 't',
  kDateTime = 'D',        // local date-time
  kDateTimeOffset = 'O',  // with an offset (minutes)
  kArray = 'a',
  kTable = 'm',
};

void put_u(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

void put_i(std::string& out, std::int64_t v) {
  put_u(out, (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63));
}

void put_text(std::string& out, std::string_view s) {
  put_u(out, s.size());
  out += s;
}

void put_date(std::string& out, const toml::date& d) {
  put_u(out, d.year);
  put_u(out, d.month);
  put_u(out, d.day);
}

void put_time(std::string& out, const toml::time& t) {
  put_u(out, t.hour);
  put_u(out, t.minute);
  put_u(out, t.second);
  put_u(out, t.nanosecond);
}

bool put_table(std::string& out, const toml::table& table, int depth);

// False when a table or array is nested deeper than the reader reads (kMaxDepth): the tree
// would not read back, so none is written.
bool put_node(std::string& out, const toml::node& node, int depth) {
  if (const toml::table* t = node.as_table()) {
    if (depth >= kMaxDepth) return false;
    out += kTable;
    return put_table(out, *t, depth + 1);
  } else if (const toml::array* a = node.as_array()) {
    if (depth >= kMaxDepth) return false;
    out += kArray;
    put_u(out, a->size());
    for (const toml::node& element : *a) {
      if (!put_node(out, element, depth + 1)) return false;
    }
  } else if (const auto* s = node.as_string()) {
    out += kString;
    put_text(out, s->get());
  } else if (const auto* i = node.as_integer()) {
    out += kInteger;
    put_i(out, i->get());
  } else if (const auto* f = node.as_floating_point()) {
    out += kFloat;
    put_u(out, std::bit_cast<std::uint64_t>(f->get()));
  } else if (const auto* b = node.as_boolean()) {
    out += b->get() ? kTrue : kFalse;
  } else if (const auto* d = node.as_date()) {
    out += kDate;
    put_date(out, d->get());
  } else if (const auto* t = node.as_time()) {
    out += kTime;
    put_time(out, t->get());
  } else if (const auto* dt = node.as_date_time()) {
    const toml::date_time& v = dt->get();
    out += v.offset ? kDateTimeOffset : kDateTime;
    put_date(out, v.date);
    put_time(out, v.time);
    if (v.offset) put_i(out, v.offset->minutes);
  }
  return true;
}

bool put_table(std::string& out, const toml::table& table, int depth) {
  put_u(out, table.size());
  for (auto&& [key, node] : table) {
    put_text(out, key.str());
    // A table's own source is where its [header] is; a key's is where the key is.
    const toml::source_region& at =
        node.is_table() && node.source().begin.line != 0 ? node.source() : key.source();
    put_u(out, at.begin.line);
    put_u(out, at.begin.column);
    if (!put_node(out, node, depth)) return false;
  }
  return true;
}

// Reads what the put_ functions wrote; any fault leaves `ok` false for good.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  bool ok() const { return ok_; }
  bool at_end() const { return at_ == in_.size(); }

  std::uint64_t u() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (at_ == in_.size()) return fail();
      const auto byte = static_cast<unsigned char>(in_[at_++]);
      v |= static_cast<std::uint64_t>(byte & 0x7F) << shift;
      if ((byte & 0x80) == 0) return v;
    }
    return fail();
  }
  std::int64_t i() {
    const std::uint64_t z = u();
    return static_cast<std::int64_t>((z >> 1) ^ (~(z & 1) + 1));
  }
  template <typename T>
  T bounded(std::uint64_t max) {
    const std::uint64_t v = u();
    if (v > max) return static_cast<T>(fail());
    return static_cast<T>(v);
  }
  std::string_view text() {
    const std::uint64_t n = u();
    if (!ok_ || n > in_.size() - at_) {
      fail();
      return {};
    }
    const std::string_view s = in_.substr(at_, n);
    at_ += n;
    return s;
  }
  char tag() {
    if (at_ == in_.size()) {
      fail();
      return 0;
    }
    return in_[at_++];
  }
  std::uint64_t fail() {
    ok_ = false;
    at_ = in_.size();
    return 0;
  }

 private:
  std::string_view in_;
  std::size_t at_ = 0;
  bool ok_ = true;
};

toml::date read_date(Reader& r) {
  toml::date d;
  d.year = r.bounded<std::uint16_t>(9999);
  d.month = r.bounded<std::uint8_t>(12);
  d.day = r.bounded<std::uint8_t>(31);
  return d;
}

toml::time read_time(Reader& r) {
  toml::time t;
  t.hour = r.bounded<std::uint8_t>(23);
  t.minute = r.bounded<std::uint8_t>(59);
  t.second = r.bounded<std::uint8_t>(60);
  t.nanosecond = r.bounded<std::uint32_t>(999'999'999);
  return t;
}

// Where a value read goes: the end of an array, or a table under a key.
struct Sink {
  toml::array* array = nullptr;
  toml::table* table = nullptr;
  std::string key;
  toml::source_region at;

  // False when the table has the key already: not a tree encode_tree() wrote.
  template <typename V>
  bool add(V&& value) {
    if (array != nullptr) {
      array->push_back(std::forward<V>(value));
      return true;
    }
    return table->insert(toml::key(std::move(key), std::move(at)), std::forward<V>(value)).second;
  }
};

bool read_table(Reader& r, toml::table& out, int depth);

bool read_value(Reader& r, int depth, Sink& sink) {
  bool added = true;
  const char tag = r.tag();
  switch (tag) {
    case kString:
      added = sink.add(std::string(r.text()));
      break;
    case kInteger:
      added = sink.add(r.i());
      break;
    case kFloat:
      added = sink.add(std::bit_cast<double>(r.u()));
      break;
    case kTrue:
      added = sink.add(true);
      break;
    case kFalse:
      added = sink.add(false);
      break;
    case kDate:
      added = sink.add(read_date(r));
      break;
    case kTime:
      added = sink.add(read_time(r));
      break;
    case kDateTime:
    case kDateTimeOffset: {
      toml::date_time dt;
      dt.date = read_date(r);
      dt.time = read_time(r);
      if (tag == kDateTimeOffset) {
        const std::int64_t minutes = r.i();
        if (minutes < -24 * 60 || minutes > 24 * 60) return r.fail(), false;
        dt.offset = toml::time_offset{};
        dt.offset->minutes = static_cast<std::int16_t>(minutes);
      }
      added = sink.add(dt);
      break;
    }
    case kArray: {
      if (depth >= kMaxDepth) return r.fail(), false;
      toml::array array;
      Sink elements{&array, nullptr, {}, {}};
      const std::uint64_t n = r.u();
      for (std::uint64_t k = 0; k < n && r.ok(); ++k) read_value(r, depth + 1, elements);
      added = sink.add(std::move(array));
      break;
    }
    case kTable: {
      if (depth >= kMaxDepth) return r.fail(), false;
      toml::table table;
      read_table(r, table, depth + 1);
      added = sink.add(std::move(table));
      break;
    }
    default:
      r.fail();
  }
  if (!added) r.fail();
  return r.ok();
}

bool read_table(Reader& r, toml::table& out, int depth) {
  const std::uint64_t n = r.u();
  for (std::uint64_t k = 0; k < n && r.ok(); ++k) {
    Sink entry{nullptr, &out, std::string(r.text()), {}};
    entry.at.begin.line = r.bounded<toml::source_index>(UINT32_MAX);
    entry.at.begin.column = r.bounded<toml::source_index>(UINT32_MAX);
    entry.at.end = entry.at.begin;
    if (!r.ok()) break;
    read_value(r, depth, entry);
  }
  return r.ok();
}

}  // namespace

std::string encode_tree(const toml::table& table) {
  std::string out;
  out += kVersion;
  if (!put_table(out, table, 0)) return {};
  return out;
}

std::optional<toml::table> decode_tree(std::string_view tree) {
  if (tree.empty() || tree[0] != kVersion) return std::nullopt;
  Reader r(tree.substr(1));
  toml::table root;
  if (!read_table(r, root, 0) || !r.at_end()) return std::nullopt;
  return root;
}

}  // namespace skedd::config
