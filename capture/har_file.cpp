#include "capture/har_file.hpp"

#include "capture/json_writer.hpp"
#include "capture/text_codec.hpp"

namespace hoplens::capture {

namespace {
constexpr std::string_view closing = "]}}\n";
}

har_file::har_file(std::string creator_version, std::string page_id)
    : creator_version_(std::move(creator_version)), page_id_(std::move(page_id)) {
}

void har_file::begin(time_point started) {
    std::string& head = pending_.bytes;
    head.clear();
    pending_.offset = 0;
    has_pending_ = true;
    head += R"({"log":{"version":"1.2","creator":)";
    json_writer w(head);
    w.begin_object();
    w.member("name", "hoplens");
    w.member("version", creator_version_);
    w.end_object();
    head += R"(,"pages":[)";
    json_writer p(head);
    p.begin_object();
    p.member("startedDateTime", iso8601_utc_ms(started));
    p.member("id", page_id_);
    p.member("title", "hoplens capture");
    p.key("pageTimings");
    p.begin_object();
    p.member("onContentLoad", -1);
    p.member("onLoad", -1);
    p.end_object();
    p.end_object();
    head += R"(],"entries":[)";
    entries_end_ = head.size();
    first_entry_ = true;
    head += closing;
}

std::string& har_file::entry_buffer() {
    std::string& b = pending_.bytes;
    if (has_pending_) {
        b.resize(b.size() - closing.size()); // the new closing follows the entry
    } else {
        b.clear();
        pending_.offset = entries_end_;
        has_pending_ = true;
    }
    if (!first_entry_) {
        b += ',';
    }
    return b;
}

void har_file::entry_done() {
    first_entry_ = false;
    entries_end_ = pending_.offset + pending_.bytes.size();
    pending_.bytes += closing;
}

bool har_file::take(file_write& out) {
    if (!has_pending_) {
        return false;
    }
    std::swap(out, pending_);
    has_pending_ = false;
    return true;
}

} // namespace hoplens::capture
