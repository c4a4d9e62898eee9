#pragma once
// The HAR file as a sequence of writes that leave valid JSON on disk after each one: the
// file is `{"log":{...,"entries":[` + entries + `]}}\n`, and each entry is written over the
// closing `]}}\n` together with a new closing. An abrupt kill between writes loses nothing
// written; pwrite() at the given offsets needs no truncation since the file only grows.

#include "capture/capture.hpp"

#include <boost/json/object.hpp>

#include <string>

namespace hoplens::capture {

class har_file {
  public:
    har_file(std::string creator_version, std::string page_id);

    // A fresh file: the log head, one page (Firefox's importer wants log.pages), no entries.
    file_write begin(time_point started);
    file_write append(const boost::json::object& entry);

  private:
    std::string creator_version_;
    std::string page_id_;
    std::uint64_t entries_end_ = 0; // offset of the closing `]}}`
    bool first_entry_ = true;
};

} // namespace hoplens::capture
