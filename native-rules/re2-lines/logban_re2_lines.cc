// RE2 over many lines in one call, for the matcher's batches (src/match/native-lines.ts).
//
// Why: through node-re2, each match costs about 350 ns besides RE2's own work, even for a
// trivial regex (its text is converted to UTF-8 on every call, each match builds a result or
// a replacement string, and our side splits and slices that text again). sshd's log needs two
// matches a line (prefregex, then a failregex): that overhead was a third of its matching.
// Here the lines go in as bytes, joined by '\n', and what comes back is where each capture
// group starts and ends in its line: no string is made but the captures the caller slices.
//
// The same RE2 as node-re2's (built from its vendor/ sources by binding.gyp), built from the
// pattern node-re2 itself handed to RE2 (`internalSource`) with the options node-re2 sets,
// so a line gets the same match and the same groups as `re.exec(line)`.
#include <node_api.h>

#include <re2/re2.h>

#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <vector>

namespace {

struct LineRegex {
  re2::RE2 re;
  int groups;
  /** lines searched and lines matched so far (see match_lines: testing first) */
  uint64_t tries = 0;
  uint64_t hits = 0;
  LineRegex(const std::string &pattern, const re2::RE2::Options &opts)
      : re(pattern, opts), groups(re.NumberOfCapturingGroups()) {}
};

/** Lines searched before the hit rate decides whether to test first. */
constexpr uint64_t kWarmTries = 256;

#define CHECK(call)                                                             \
  do {                                                                          \
    if ((call) != napi_ok) {                                                    \
      napi_throw_error(env, nullptr, "logban_re2_lines: bad arguments: " #call); \
      return nullptr;                                                           \
    }                                                                           \
  } while (0)

void free_regex(napi_env, void *data, void *) { delete static_cast<LineRegex *>(data); }

bool flag(napi_env env, napi_value v) {
  bool b = false;
  napi_get_value_bool(env, v, &b);
  return b;
}

/** compile(pattern: string, ignoreCase: boolean, multiline: boolean, dotAll: boolean)
 *  -> external; throws SyntaxError with RE2's message */
napi_value compile(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  if (argc < 4) {
    napi_throw_type_error(env, nullptr, "logban_re2_lines.compile(pattern, ignoreCase, multiline, dotAll)");
    return nullptr;
  }
  size_t len = 0;
  CHECK(napi_get_value_string_utf8(env, argv[0], nullptr, 0, &len));
  std::string pattern(len, '\0');
  CHECK(napi_get_value_string_utf8(env, argv[0], pattern.data(), len + 1, &len));
  // node-re2's options (lib/new.cc), so both objects are the same regex
  re2::RE2::Options opts;
  opts.set_case_sensitive(!flag(env, argv[1]));
  opts.set_one_line(!flag(env, argv[2]));
  opts.set_dot_nl(flag(env, argv[3]));
  opts.set_log_errors(false);
  LineRegex *r = new (std::nothrow) LineRegex(pattern, opts);
  if (!r) {
    napi_throw_error(env, nullptr, "logban_re2_lines: out of memory");
    return nullptr;
  }
  if (!r->re.ok()) {
    napi_value msg, err;
    napi_create_string_utf8(env, r->re.error().c_str(), NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, nullptr, msg, &err);
    delete r;
    napi_throw(env, err);
    return nullptr;
  }
  napi_value out;
  if (napi_create_external(env, r, free_regex, nullptr, &out) != napi_ok) {
    delete r;
    napi_throw_error(env, nullptr, "logban_re2_lines: cannot wrap the regex");
    return nullptr;
  }
  return out;
}

/** groups(regex) -> number of capture groups */
napi_value groups(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  LineRegex *r = nullptr;
  CHECK(napi_get_value_external(env, argv[0], reinterpret_cast<void **>(&r)));
  napi_value out;
  CHECK(napi_create_int32(env, r->groups, &out));
  return out;
}

/** UTF-16 code units in the UTF-8 bytes [p, q): one per sequence, two for a 4-byte one. */
int32_t utf16_units(const unsigned char *p, const unsigned char *q) {
  int32_t n = 0;
  for (; p < q; p++) {
    if ((*p & 0xC0) != 0x80) n++;
    if (*p >= 0xF0) n++;
  }
  return n;
}

/** matchLines(regex, text: Uint8Array, length: number, utf16: boolean) -> Int32Array
 *  text[0, length) is lines joined by '\n', in UTF-8. Per line, (groups + 1) pairs [start, end)
 *  of the whole match and of each group, from the line's start; -1, -1 where the line does not
 *  match or the group took no part. Each line is searched alone, as exec() searches it.
 *  Offsets count bytes, or with `utf16` UTF-16 code units (JavaScript string indexes). */
napi_value match_lines(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  if (argc < 4) {
    napi_throw_type_error(env, nullptr, "logban_re2_lines.matchLines(regex, text, length, utf16)");
    return nullptr;
  }
  LineRegex *r = nullptr;
  CHECK(napi_get_value_external(env, argv[0], reinterpret_cast<void **>(&r)));
  napi_typedarray_type type;
  size_t tlen = 0, toff = 0;
  void *tdata = nullptr;
  napi_value tbuf;
  CHECK(napi_get_typedarray_info(env, argv[1], &type, &tlen, &tdata, &tbuf, &toff));
  int64_t want = 0;
  CHECK(napi_get_value_int64(env, argv[2], &want));
  if (type != napi_uint8_array || want < 0 || static_cast<size_t>(want) > tlen) {
    napi_throw_range_error(env, nullptr, "logban_re2_lines.matchLines: text must be a Uint8Array of at least `length` bytes");
    return nullptr;
  }
  const char *text = static_cast<const char *>(tdata);
  const size_t n = static_cast<size_t>(want);
  const bool utf16 = flag(env, argv[3]);
  size_t lines = 1;
  for (const char *p = text; (p = static_cast<const char *>(std::memchr(p, '\n', text + n - p))) != nullptr; p++) lines++;
  const size_t per = 2 * static_cast<size_t>(r->groups + 1);
  napi_value ab, out;
  void *odata = nullptr;
  CHECK(napi_create_arraybuffer(env, lines * per * sizeof(int32_t), &odata, &ab));
  CHECK(napi_create_typedarray(env, napi_int32_array, lines * per, ab, 0, &out));
  int32_t *o = static_cast<int32_t *>(odata);
  std::vector<re2::StringPiece> sub(r->groups + 1);
  // Asked for captures, RE2 runs a regex anchored at the start straight through its
  // backtracker (no DFA first): fast on a line that matches, but a line that does not costs as
  // much (1.2 us against 0.2 us for the DFA's "no" on sshd's lines). A regex that misses more
  // often than it hits is tested with the DFA first, and searched for captures only on a hit.
  const bool test_first = r->tries >= kWarmTries && r->hits * 2 < r->tries;
  size_t start = 0;
  for (size_t line = 0; line < lines; line++, o += per) {
    const char *nl = static_cast<const char *>(std::memchr(text + start, '\n', n - start));
    const size_t end = nl ? static_cast<size_t>(nl - text) : n;
    const re2::StringPiece piece(text + start, end - start);
    r->tries++;
    const bool hit = (!test_first || r->re.Match(piece, 0, piece.size(), re2::RE2::UNANCHORED, nullptr, 0)) &&
                     r->re.Match(piece, 0, piece.size(), re2::RE2::UNANCHORED, sub.data(), r->groups + 1);
    if (hit) {
      r->hits++;
      // a line with bytes above 0x7f counts its offsets in UTF-16 units (ASCII: the same)
      bool wide = false;
      if (utf16) {
        for (size_t k = 0; k < piece.size() && !wide; k++) wide = static_cast<unsigned char>(piece[k]) >= 0x80;
      }
      const unsigned char *line0 = reinterpret_cast<const unsigned char *>(piece.data());
      for (int g = 0; g <= r->groups; g++) {
        if (sub[g].data() == nullptr) {
          o[2 * g] = o[2 * g + 1] = -1;
        } else if (wide) {
          const unsigned char *b = reinterpret_cast<const unsigned char *>(sub[g].data());
          o[2 * g] = utf16_units(line0, b);
          o[2 * g + 1] = o[2 * g] + utf16_units(b, b + sub[g].size());
        } else {
          o[2 * g] = static_cast<int32_t>(sub[g].data() - piece.data());
          o[2 * g + 1] = static_cast<int32_t>(sub[g].data() - piece.data() + sub[g].size());
        }
      }
    } else {
      for (size_t k = 0; k < per; k++) o[k] = -1;
    }
    start = end + 1;
  }
  return out;
}

}  // namespace

NAPI_MODULE_INIT() {
  napi_value fn;
  CHECK(napi_create_function(env, "compile", NAPI_AUTO_LENGTH, compile, nullptr, &fn));
  CHECK(napi_set_named_property(env, exports, "compile", fn));
  CHECK(napi_create_function(env, "groups", NAPI_AUTO_LENGTH, groups, nullptr, &fn));
  CHECK(napi_set_named_property(env, exports, "groups", fn));
  CHECK(napi_create_function(env, "matchLines", NAPI_AUTO_LENGTH, match_lines, nullptr, &fn));
  CHECK(napi_set_named_property(env, exports, "matchLines", fn));
  return exports;
}
