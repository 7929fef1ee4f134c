#include "mllp_frame.hpp"

#include <cstring>

namespace ppmg::mllp {

std::string frame(std::string_view message) {
    std::string out;
    out.reserve(message.size() + 3);
    out += kStartBlock;
    out.append(message);
    out += kEndBlock;
    out += kCarriageReturn;
    return out;
}

void FrameReader::feed(const char* data, size_t size) { pending_.append(data, size); }

FrameReader::Result FrameReader::next(std::string& out) {
    size_t pos = 0;
    Result result = Result::NeedMore;
    while (pos < pending_.size() && result == Result::NeedMore) {
        if (!inFrame_) {
            const size_t start = pending_.find(kStartBlock, pos);
            skipped_ += (start == std::string::npos ? pending_.size() : start) - pos;
            if (start == std::string::npos) {
                pos = pending_.size();
                break;
            }
            inFrame_ = true;
            oversized_ = false;
            current_.clear();
            pos = start + 1;
            continue;
        }
        // <FS> ends the frame; the <CR> after it is consumed when present.
        const size_t end = pending_.find(kEndBlock, pos);
        const size_t stop = end == std::string::npos ? pending_.size() : end;
        const size_t room = oversized_ ? 0 : (current_.size() < max_ ? max_ - current_.size() : 0);
        const size_t take = stop - pos;
        if (take > room && !oversized_) {
            oversized_ = true;
            if (current_.size() > kKeptOfOversized) current_.resize(kKeptOfOversized);
        }
        if (!oversized_)
            current_.append(pending_, pos, take);
        else if (current_.size() < kKeptOfOversized)
            current_.append(pending_, pos, std::min(take, kKeptOfOversized - current_.size()));
        pos = stop;
        if (end == std::string::npos) break;
        pos = end + 1;
        if (pos < pending_.size() && pending_[pos] == kCarriageReturn) ++pos;
        inFrame_ = false;
        out.swap(current_);
        current_.clear();
        result = oversized_ ? Result::Oversized : Result::Frame;
    }
    pending_.erase(0, pos);
    return result;
}

}  // namespace ppmg::mllp
