#include "blob/fault_injection_fs.h"

#include <fmt/format.h>

namespace cleave::blob {

namespace {
Status injected(std::string_view what, const std::string& path) {
    return Status::io_error(fmt::format("injected fault: {} {}", what, path));
}
}  // namespace

void FaultInjectingFileSystem::fail(Op op, int count, int skip) {
    std::lock_guard lock(mu_);
    auto& p = plans_[static_cast<size_t>(op)];
    p.skip = skip;
    p.fail = count;
}

void FaultInjectingFileSystem::set_corrupt_reads(bool on) {
    std::lock_guard lock(mu_);
    corrupt_reads_ = on;
}

int FaultInjectingFileSystem::calls(Op op) const {
    std::lock_guard lock(mu_);
    return plans_[static_cast<size_t>(op)].calls;
}

bool FaultInjectingFileSystem::should_fail(Op op) {
    std::lock_guard lock(mu_);
    auto& p = plans_[static_cast<size_t>(op)];
    ++p.calls;
    if (p.skip > 0) {
        --p.skip;
        return false;
    }
    if (p.fail > 0) {
        --p.fail;
        return true;
    }
    return false;
}

Status FaultInjectingFileSystem::create_dirs(const std::string& path) {
    if (should_fail(Op::create_dirs)) return injected("create_dirs", path);
    return base_.create_dirs(path);
}

Status FaultInjectingFileSystem::write_new_file_synced(const std::string& path,
                                                       std::string_view data) {
    if (should_fail(Op::write)) {
        base_.write_new_file_synced(path, data.substr(0, data.size() / 2)).ignore();
        return injected("write", path);
    }
    return base_.write_new_file_synced(path, data);
}

Result<std::string> FaultInjectingFileSystem::read_file(const std::string& path,
                                                        uint64_t max_bytes) {
    if (should_fail(Op::read)) return injected("read", path);
    auto r = base_.read_file(path, max_bytes);
    bool corrupt = false;
    {
        std::lock_guard lock(mu_);
        corrupt = corrupt_reads_;
    }
    if (r.is_ok() && corrupt && !r->empty()) (*r)[r->size() / 2] ^= 0x10;
    return r;
}

Status FaultInjectingFileSystem::rename(const std::string& from, const std::string& to) {
    if (should_fail(Op::rename)) return injected("rename", from);
    return base_.rename(from, to);
}

Status FaultInjectingFileSystem::sync_dir(const std::string& path) {
    if (should_fail(Op::sync_dir)) return injected("sync_dir", path);
    return base_.sync_dir(path);
}

Status FaultInjectingFileSystem::remove(const std::string& path) {
    if (should_fail(Op::remove)) return injected("remove", path);
    return base_.remove(path);
}

Result<FileInfo> FaultInjectingFileSystem::stat(const std::string& path) {
    if (should_fail(Op::stat)) return injected("stat", path);
    return base_.stat(path);
}

Status FaultInjectingFileSystem::touch(const std::string& path) {
    if (should_fail(Op::touch)) return injected("touch", path);
    return base_.touch(path);
}

Result<std::vector<DirEntry>> FaultInjectingFileSystem::list_dir(const std::string& path) {
    if (should_fail(Op::list_dir)) return injected("list_dir", path);
    return base_.list_dir(path);
}

}  // namespace cleave::blob
