// MLLP (the Minimal Lower Layer Protocol of HL7 v2): a message travels as <VT> bytes <FS><CR>.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ppmg::mllp {

constexpr char kStartBlock = '\x0b';
constexpr char kEndBlock = '\x1c';
constexpr char kCarriageReturn = '\r';

// The bytes framed for the wire.
std::string frame(std::string_view message);

// Splits a received byte stream into frames. Bytes outside a frame (before a <VT>) are skipped
// and counted. A frame over the size limit keeps its first bytes (enough for its header) and is
// reported as oversized when its end arrives, the rest having been dropped.
class FrameReader {
public:
    explicit FrameReader(size_t maxFrameBytes) : max_(maxFrameBytes) {}
    enum class Result { Frame, Oversized, NeedMore };
    void feed(const char* data, size_t size);
    // The next complete frame's content (without the framing bytes) into out.
    Result next(std::string& out);
    size_t skipped() const { return skipped_; }
    bool inFrame() const { return inFrame_; }

private:
    static constexpr size_t kKeptOfOversized = 4096;
    size_t max_;
    std::string pending_;  // received, not yet split
    std::string current_;  // the frame being collected
    bool inFrame_ = false, oversized_ = false;
    size_t skipped_ = 0;
};

}  // namespace ppmg::mllp
