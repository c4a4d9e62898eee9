#pragma once
// The HAR file as a sequence of writes that leave valid JSON on disk after each one: the
// file is `{"log":{...,"entries":[` + entries + `]}}\n`, and entries are written over the
// closing `]}}\n` together with a new closing. An abrupt kill between writes loses nothing
// written; pwrite() at the given offsets needs no truncation since the file only grows.
// Entries appended before the pending write is taken join it: one write per batch.

#include "capture/capture.hpp"

#include <string>

namespace hoplens::capture {

class har_file {
  public:
    har_file(std::string creator_version, std::string page_id);

    // A fresh file: the log head, one page (Firefox's importer wants log.pages), no entries.
    // Replaces whatever was pending (it belonged to the previous file).
    void begin(time_point started);
    // The string to append one entry's JSON object to, then entry_done().
    std::string& entry_buffer();
    void entry_done();

    // The write pending since the last call, into `out` (whose capacity is reused); false if
    // there is none.
    bool take(file_write& out);

  private:
    std::string creator_version_;
    std::string page_id_;
    file_write pending_;
    bool has_pending_ = false;
    std::uint64_t entries_end_ = 0; // file offset of the closing `]}}`
    bool first_entry_ = true;
};

} // namespace hoplens::capture
