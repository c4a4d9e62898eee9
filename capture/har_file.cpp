#include "capture/har_file.hpp"

#include "capture/text_codec.hpp"

#include <boost/json/serialize.hpp>

namespace hoplens::capture {

namespace {
constexpr std::string_view closing = "]}}\n";
}

har_file::har_file(std::string creator_version, std::string page_id)
    : creator_version_(std::move(creator_version)), page_id_(std::move(page_id)) {
}

file_write har_file::begin(time_point started) {
    const boost::json::object creator{{"name", "hoplens"}, {"version", creator_version_}};
    const boost::json::object page{
        {"startedDateTime", iso8601_utc_ms(started)},
        {"id", page_id_},
        {"title", "hoplens capture"},
        {"pageTimings", boost::json::object{{"onContentLoad", -1}, {"onLoad", -1}}}};
    std::string head = R"({"log":{"version":"1.2","creator":)" + boost::json::serialize(creator) +
                       R"(,"pages":[)" + boost::json::serialize(page) + R"(],"entries":[)";
    entries_end_ = head.size();
    first_entry_ = true;
    head += closing;
    return {0, std::move(head)};
}

file_write har_file::append(const boost::json::object& entry) {
    std::string body = first_entry_ ? "" : ",";
    body += boost::json::serialize(entry);
    file_write w{entries_end_, std::move(body)};
    entries_end_ += w.bytes.size();
    first_entry_ = false;
    w.bytes += closing;
    return w;
}

} // namespace hoplens::capture
