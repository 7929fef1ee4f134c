// The durable outbox: every MDM accepted for forwarding is on disk before its frame is
// acknowledged, and stays there until the forward peer acknowledges it, across restarts.
//
// One append-only journal file (DIR/outbox.journal) of records: a message put (sequence number,
// bytes) or a sequence number done. Each record carries a CRC-32; reading it back at start stops
// at the first torn or damaged record (a crash mid-write) and cuts the file there. put() returns
// once its record is on disk (fdatasync; concurrent puts share one sync: group commit). done() is
// not synced: a done lost in a crash sends its message again (at least once, as MLLP is). The
// journal is rewritten with only the pending messages at start, and emptied whenever nothing is
// pending.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace ppmg::mllp {

class Outbox {
public:
    explicit Outbox(std::string dir);  // creates DIR if needed; throws std::runtime_error
    ~Outbox();
    Outbox(const Outbox&) = delete;
    Outbox& operator=(const Outbox&) = delete;

    uint64_t put(const std::string& message);  // durable on return; its sequence number
    // The oldest pending message not yet handed out since the last retry(); false when none
    // arrives within the wait or the outbox is stopping.
    bool next(uint64_t& seq, std::string& message, int waitMs);
    void done(uint64_t seq);  // delivered (or given up): no longer pending
    size_t pending() const;
    size_t recovered() const { return recovered_; }  // pending at start
    void stop();                                     // wakes next()

private:
    void append(const std::string& record);  // under mu_
    void syncTo(std::unique_lock<std::mutex>& lock, uint64_t offset);
    void rewrite();

    std::string dir_, path_;
    int fd_ = -1;
    mutable std::mutex mu_;
    std::condition_variable changed_;
    struct Entry {
        std::string message;
        uint64_t end = 0;  // the journal offset its record ends at
    };
    std::map<uint64_t, Entry> pending_;
    uint64_t nextSeq_ = 1, handedOut_ = 0;  // handedOut_: the last seq next() returned
    uint64_t written_ = 0, synced_ = 0;     // journal bytes written, and known on disk
    bool syncing_ = false, stopping_ = false;
    size_t recovered_ = 0;
};

}  // namespace ppmg::mllp
