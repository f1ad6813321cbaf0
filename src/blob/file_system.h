#pragma once
// The chunk store's only door to the operating system (STYLE.md: LevelDB's
// Env, RocksDB's FileSystem). Everything the store does to files goes through
// this interface, so tests can swap in FaultInjectingFileSystem.
//
// Threading: every method may be called from any thread concurrently.
// Paths are plain strings; no method follows a relative path specially.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace cleave::blob {

struct FileInfo {
    uint64_t size_bytes = 0;
    int64_t mtime_ms = 0;  // last modification, ms since the Unix epoch
    bool is_dir = false;
};

struct DirEntry {
    std::string name;  // without the directory
    bool is_dir = false;
};

class FileSystem {
  public:
    virtual ~FileSystem() = default;

    // Creates `path` and its missing parents; an existing directory is fine.
    // Each directory created is made durable (its parent is fsynced).
    virtual Status create_dirs(const std::string& path) = 0;
    // Creates `path`, which must not exist (already_exists otherwise), writes
    // `data`, fsyncs and closes it. On failure a partial file may remain: the
    // caller removes it.
    virtual Status write_new_file_synced(const std::string& path, std::string_view data) = 0;
    // The whole file. not_found if absent; too_large (without reading it all)
    // if it holds more than max_bytes.
    virtual Result<std::string> read_file(const std::string& path, uint64_t max_bytes) = 0;
    // Atomically renames, replacing `to` if it exists. Not durable until the
    // directory of `to` is synced.
    virtual Status rename(const std::string& from, const std::string& to) = 0;
    // Makes the directory's entries (creations, renames, removals) durable.
    virtual Status sync_dir(const std::string& path) = 0;
    // Removes a file. not_found if absent.
    virtual Status remove(const std::string& path) = 0;
    // not_found if absent.
    virtual Result<FileInfo> stat(const std::string& path) = 0;
    // Sets the file's modification time to now. not_found if absent.
    virtual Status touch(const std::string& path) = 0;
    // The entries of a directory, without "." and "..", in no particular order.
    virtual Result<std::vector<DirEntry>> list_dir(const std::string& path) = 0;
};

// The real thing, on POSIX calls. Lives for the whole process.
FileSystem& posix_file_system();

}  // namespace cleave::blob
