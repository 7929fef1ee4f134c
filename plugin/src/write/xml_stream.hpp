// A small streaming XML writer into a std::string: no tree, one pass, one buffer. It replaces
// libxml2's xmlTextWriter on the CDA path, where the writer's per-call allocations and bookkeeping
// were most of the document's cost, and it writes the same bytes xmlTextWriter does:
//  - a start tag stays open until content follows, so attributes may follow open(); an element
//    closed with nothing in it is written <name/>;
//  - text escapes < > & " and CR (&lt; &gt; &amp; &quot; &#13;), as xmlEncodeSpecialChars;
//  - attribute values escape < > & " TAB LF CR and write every non-ASCII character as &#xHEX;,
//    as xmlBufAttrSerializeTxtContent without an output encoding;
//  - finish() closes what is open and ends the document with a line feed.
// text() and attr() take XML already (literals, content); dataText() and dataAttr() take anything
// (patient data, host options): every byte that is not part of an XML 1.0 character (control
// characters, broken or overlong UTF-8, surrogates, U+FFFE, U+FFFF) is written as U+FFFD, in the
// same pass as the escaping.
// tests/unit/test_xml_stream.cpp checks the output byte for byte against xmlTextWriter.
#pragma once

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace ppmg::core {

class XmlStream {
public:
    explicit XmlStream(size_t reserve = 0) : out_(reserve) {}

    // Names are literals: the writer keeps a view of each open name until its end tag.
    void open(std::string_view name) {
        closeStartTag();
        out_.push_back('<');
        out_.append(name);
        open_.push_back(name);
        startTagOpen_ = true;
    }
    // Only while the start tag is open (right after open() or another attr()).
    void attr(std::string_view name, std::string_view value) { attribute(name, value, false); }
    void text(std::string_view s) {
        closeStartTag();
        escape(s, false, false);
    }
    // As attr() and text(), for values that may hold what XML cannot carry.
    void dataAttr(std::string_view name, std::string_view value) { attribute(name, value, true); }
    void dataText(std::string_view s) {
        closeStartTag();
        escape(s, false, true);
    }
    // Markup written as is: the caller vouches that it is well-formed and closes what it opens.
    void raw(std::string_view markup) {
        closeStartTag();
        out_.append(markup);
    }
    void close() {
        if (open_.empty()) return;
        if (startTagOpen_) {
            out_.append("/>");
            startTagOpen_ = false;
        } else {
            out_.append("</");
            out_.append(open_.back());
            out_.push_back('>');
        }
        open_.pop_back();
    }
    // Closes every open element, ends the document with a line feed and hands over the bytes.
    std::string finish() {
        while (!open_.empty()) close();
        out_.push_back('\n');
        return out_.take();
    }

    // Length of the XML 1.0 character at p (well-formed, shortest-form UTF-8), 0 if there is none.
    static size_t xmlCharLength(const unsigned char* p, const unsigned char* end);

    // The output: a std::string kept at its full size, with the length used beside it, so that an
    // append is a bounds check and a memcpy instead of a call into the library (a CDA document is
    // some three thousand appends). The full-size string is a scratch buffer kept per thread and
    // reused from call to call (std::string::resize zero-fills, and a fresh 32-64 KiB buffer per
    // document cost a memset, a regrowth and glibc's free-list consolidation each time); take()
    // copies the bytes used into an exactly sized string. A second stream alive on the same thread
    // gets a buffer of its own.
    class Buffer {
    public:
        explicit Buffer(size_t reserve) {
            Scratch& scratch = threadScratch();
            if (!scratch.inUse) {
                scratch.inUse = true;
                s_ = &scratch.s;
                shared_ = true;
            } else {
                s_ = &own_;
            }
            const size_t want = reserve > 0 ? reserve : 256;
            if (s_->size() < want) s_->resize(want);
        }
        ~Buffer() {
            if (!shared_) return;
            Scratch& scratch = threadScratch();
            // A buffer grown far past a document's size (a huge record) is not kept for the thread.
            if (scratch.s.size() > kKeptBytes) std::string().swap(scratch.s);
            scratch.inUse = false;
        }
        Buffer(const Buffer&) = delete;
        Buffer& operator=(const Buffer&) = delete;

        void append(std::string_view v) {
            if (v.empty()) return;  // an empty view may have no data at all (memcpy from NULL is UB)
            if (v.size() > s_->size() - used_) grow(v.size());
            std::memcpy(&(*s_)[used_], v.data(), v.size());
            used_ += v.size();
        }
        void push_back(char c) {
            if (used_ == s_->size()) grow(1);
            (*s_)[used_++] = c;
        }
        // Appends a copy of bytes [from, from + n) already written.
        void appendWritten(size_t from, size_t n) {
            if (n > s_->size() - used_) grow(n);  // before taking the source: growing moves it
            std::memcpy(&(*s_)[used_], s_->data() + from, n);
            used_ += n;
        }
        size_t size() const { return used_; }
        std::string take() {
            std::string out(s_->data(), used_);
            used_ = 0;
            return out;
        }

    private:
        struct Scratch {
            std::string s;
            bool inUse = false;
        };
        static constexpr size_t kKeptBytes = 1u << 20;
        static Scratch& threadScratch() {
            thread_local Scratch scratch;
            return scratch;
        }
        void grow(size_t n) { s_->resize(std::max(s_->size() * 2, used_ + n)); }
        std::string* s_ = nullptr;
        std::string own_;
        bool shared_ = false;
        size_t used_ = 0;
    };

private:
    void closeStartTag() {
        if (!startTagOpen_) return;
        out_.push_back('>');
        startTagOpen_ = false;
    }
    void attribute(std::string_view name, std::string_view value, bool repair) {
        out_.push_back(' ');
        out_.append(name);
        out_.append("=\"");
        escape(value, true, repair);
        out_.push_back('"');
    }
    // Escapes for an attribute value or for text; repair writes each byte that is not part of an
    // XML 1.0 character as U+FFFD.
    void escape(std::string_view s, bool attribute, bool repair);

    Buffer out_;
    std::vector<std::string_view> open_;
    bool startTagOpen_ = false;
};

}  // namespace ppmg::core
