#pragma once
// A JSON text written straight into a string, with the same bytes boost::json::serialize
// gives for the same tree (member order as written, the same escapes, the same number
// forms), without building the tree: a HAR entry is written once per exchange on the
// capture thread, and a tree of small allocations cost more than the rest of the entry.
// Strings that are not valid UTF-8 are the exception: boost::json would copy the bytes and
// make invalid JSON; here each byte of an ill-formed sequence is read as ISO-8859-1.

#include <cstdint>
#include <string>
#include <string_view>

namespace hoplens::capture {

class json_writer {
  public:
    explicit json_writer(std::string& out) : out_(out) {
    }

    void begin_object();
    void end_object();
    void begin_array();
    void end_array();
    // A member name; the value follows with one of the calls below (or begin_*).
    void key(std::string_view name);

    void value(std::string_view text);
    void value(const char* text) {
        value(std::string_view(text));
    }
    void value(std::int64_t number);
    void value(int number) {
        value(std::int64_t(number));
    }
    void value(double number);
    // The base64 of `bytes` as a string, encoded straight into the output (a HAR body of
    // 1 MiB would otherwise be encoded into a temporary and then scanned for escapes).
    void value_base64(std::string_view bytes);
    void value(bool flag);

    // key + value.
    template <typename T> void member(std::string_view name, const T& v) {
        key(name);
        value(v);
    }

  private:
    // Whether a comma goes before the next member or element; records that one follows.
    bool take_comma();
    void separate(); // the comma, if one goes here
    // A string, after its separator, then a colon if it names a member.
    void token(std::string_view text, bool as_key);
    static std::size_t plain_prefix(std::string_view text);
    // `text` as a JSON string with its escapes; its first `plain` bytes need none.
    void quote(std::string_view text, std::size_t plain);

    std::string& out_;
    bool first_ = true;      // no member or element yet in the innermost container
    bool after_key_ = false; // a value completes the member just named
};

} // namespace hoplens::capture
