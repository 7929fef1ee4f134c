#include "outbox.hpp"

#include <Poco/Checksum.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

namespace ppmg::mllp {
namespace {

constexpr char kPut = 'P', kDone = 'D';
constexpr size_t kHeader = 1 + 8 + 4 + 4;  // kind, seq, length, crc

void putU64(std::string& s, uint64_t v) {
    for (int i = 0; i < 8; ++i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
}
void putU32(std::string& s, uint32_t v) {
    for (int i = 0; i < 4; ++i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
}
uint64_t getU(const std::string& s, size_t at, int bytes) {
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[at + static_cast<size_t>(i)]);
    return v;
}

std::string record(char kind, uint64_t seq, const std::string& body) {
    Poco::Checksum crc(Poco::Checksum::TYPE_CRC32);
    std::string r(1, kind);
    putU64(r, seq);
    putU32(r, static_cast<uint32_t>(body.size()));
    crc.update(r.data(), static_cast<unsigned>(r.size()));
    crc.update(body.data(), static_cast<unsigned>(body.size()));
    putU32(r, crc.checksum());
    return r + body;
}

[[noreturn]] void fail(const std::string& what, const std::string& path) {
    throw std::runtime_error("outbox: " + what + " " + path + ": " + std::strerror(errno));
}

void writeAll(int fd, const std::string& data, const std::string& path) {
    size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) fail("cannot write", path);
        done += static_cast<size_t>(n);
    }
}

void syncDir(const std::string& dir) {
    const int d = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (d >= 0) {
        ::fsync(d);
        ::close(d);
    }
}

}  // namespace

Outbox::Outbox(std::string dir) : dir_(std::move(dir)), path_(dir_ + "/outbox.journal") {
    if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) fail("cannot create", dir_);
    // Read what a previous run left.
    std::string data;
    const int in = ::open(path_.c_str(), O_RDONLY);
    if (in >= 0) {
        char buf[1 << 16];
        for (ssize_t n; (n = ::read(in, buf, sizeof buf)) != 0;) {
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) fail("cannot read", path_);
            data.append(buf, static_cast<size_t>(n));
        }
        ::close(in);
    }
    size_t at = 0;
    while (at + kHeader <= data.size()) {
        const char kind = data[at];
        const uint64_t seq = getU(data, at + 1, 8);
        const size_t len = getU(data, at + 9, 4);
        const uint32_t crcWritten = static_cast<uint32_t>(getU(data, at + 13, 4));
        if ((kind != kPut && kind != kDone) || at + kHeader + len > data.size()) break;
        Poco::Checksum crc(Poco::Checksum::TYPE_CRC32);
        crc.update(data.data() + at, 13);
        crc.update(data.data() + at + kHeader, static_cast<unsigned>(len));
        if (crc.checksum() != crcWritten) break;  // a torn or damaged record: the journal ends here
        if (kind == kPut)
            pending_[seq] = Entry{data.substr(at + kHeader, len), 0};
        else
            pending_.erase(seq);
        if (seq >= nextSeq_) nextSeq_ = seq + 1;
        at += kHeader + len;
    }
    recovered_ = pending_.size();
    rewrite();
}

Outbox::~Outbox() {
    if (fd_ >= 0) ::close(fd_);
}

// The journal with only the pending messages, written beside it and renamed over it.
void Outbox::rewrite() {
    const std::string tmp = path_ + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) fail("cannot create", tmp);
    std::string all;
    for (const auto& p : pending_) all += record(kPut, p.first, p.second.message);
    writeAll(fd, all, tmp);
    if (::fsync(fd) != 0) fail("cannot sync", tmp);
    ::close(fd);
    if (::rename(tmp.c_str(), path_.c_str()) != 0) fail("cannot rename", tmp);
    syncDir(dir_);
    if (fd_ >= 0) ::close(fd_);
    fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd_ < 0) fail("cannot open", path_);
    written_ = synced_ = all.size();
}

void Outbox::append(const std::string& r) {
    writeAll(fd_, r, path_);
    written_ += r.size();
}

// Waits until the journal is on disk up to offset, syncing it (for every waiter) if no one is.
void Outbox::syncTo(std::unique_lock<std::mutex>& lock, uint64_t offset) {
    while (synced_ < offset) {
        if (syncing_) {
            changed_.wait(lock);
            continue;
        }
        syncing_ = true;
        const uint64_t target = written_;
        lock.unlock();
        const int rc = ::fdatasync(fd_);
        lock.lock();
        syncing_ = false;
        if (rc != 0) {
            changed_.notify_all();
            fail("cannot sync", path_);
        }
        if (target > synced_) synced_ = target;
        changed_.notify_all();
    }
}

uint64_t Outbox::put(const std::string& message) {
    std::unique_lock<std::mutex> lock(mu_);
    const uint64_t seq = nextSeq_++;
    append(record(kPut, seq, message));
    const uint64_t mine = written_;
    pending_[seq] = Entry{message, mine};
    syncTo(lock, mine);
    changed_.notify_all();
    return seq;
}

bool Outbox::next(uint64_t& seq, std::string& message, int waitMs) {
    std::unique_lock<std::mutex> lock(mu_);
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(waitMs);
    while (!stopping_) {
        auto it = pending_.upper_bound(handedOut_);
        // Only what is on disk is handed out.
        if (it != pending_.end() && it->second.end <= synced_) {
            seq = it->first;
            message = it->second.message;
            handedOut_ = seq;
            return true;
        }
        if (changed_.wait_until(lock, until) == std::cv_status::timeout) return false;
    }
    return false;
}

void Outbox::done(uint64_t seq) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!pending_.erase(seq)) return;
    if (pending_.empty() && !syncing_) {
        // Nothing pending: the journal starts again empty (not while a sync runs: its offsets
        // would then name a file that no longer is).
        if (::ftruncate(fd_, 0) == 0) {
            written_ = synced_ = 0;
            return;
        }
    }
    append(record(kDone, seq, {}));
}

size_t Outbox::pending() const {
    std::lock_guard<std::mutex> lock(mu_);
    return pending_.size();
}

void Outbox::stop() {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    changed_.notify_all();
}

}  // namespace ppmg::mllp
