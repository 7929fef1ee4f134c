#include "cli_common.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace ppmg::cli {

Args parseArgs(int argc, char** argv, int first, const std::vector<std::string>& valued,
               const std::vector<std::string>& flags) {
    Args a;
    auto in = [](const std::vector<std::string>& v, const std::string& s) {
        for (const auto& x : v)
            if (x == s) return true;
        return false;
    };
    for (int i = first; i < argc; ++i) {
        std::string s = argv[i];
        if (s == "--") {
            for (++i; i < argc; ++i) a.positional.emplace_back(argv[i]);
            break;
        }
        if (s.size() > 1 && s[0] == '-') {
            std::string key = s, value;
            bool inlineValue = false;
            if (auto eq = s.find('='); eq != std::string::npos && s.rfind("--", 0) == 0) {
                key = s.substr(0, eq);
                value = s.substr(eq + 1);
                inlineValue = true;
            }
            if (in(valued, key)) {
                if (!inlineValue) {
                    if (i + 1 >= argc) throw std::invalid_argument(key + " needs a value");
                    value = argv[++i];
                }
                a.options[key].push_back(value);
            } else if (in(flags, key) && !inlineValue) {
                a.options[key];
            } else {
                throw std::invalid_argument("unknown option " + s);
            }
        } else {
            a.positional.push_back(s);
        }
    }
    return a;
}

long Args::number(const char* key, long dflt, long min, long max) const {
    if (!has(key)) return dflt;
    const std::string v = get(key);
    size_t used = 0;
    long n = 0;
    try {
        n = std::stol(v, &used);
    } catch (...) {
        used = 0;
    }
    if (used != v.size() || v.empty() || n < min || n > max)
        throw std::invalid_argument(std::string(key) + " must be a whole number from " + std::to_string(min) + " to " +
                                    std::to_string(max) + ", got \"" + v + "\"");
    return n;
}

std::string readFile(const std::string& path, size_t maxBytes) {
    std::ifstream f;
    std::istream* in = &std::cin;
    if (path != "-") {
        f.open(path, std::ios::binary);
        if (!f) throw std::runtime_error("cannot open the file");
        in = &f;
    }
    std::string data;
    std::vector<char> chunk(1 << 16);
    while (in->read(chunk.data(), static_cast<std::streamsize>(chunk.size())) || in->gcount() > 0) {
        data.append(chunk.data(), static_cast<size_t>(in->gcount()));
        if (data.size() > maxBytes)
            throw std::runtime_error("the input is over the limit of " + std::to_string(maxBytes) + " bytes");
    }
    if (in->bad()) throw std::runtime_error("cannot read the file");
    return data;
}

namespace {

// The folder and the name of a path: "a/b/c" -> "a/b", "c"; "c" -> ".", "c"; "/c" -> "/", "c".
std::pair<std::string, std::string> splitPath(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    if (slash == std::string::npos) return {".", path};
    return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

// 16 hex digits from the kernel's random source: a temporary name nobody can guess in advance.
std::string randomHex() {
    unsigned char bytes[8];
    size_t got = 0;
    while (got < sizeof bytes) {
        const ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw std::runtime_error("cannot get random bytes for a temporary name");
        got += static_cast<size_t>(n);
    }
    static const char* kHex = "0123456789abcdef";
    std::string out;
    for (unsigned char b : bytes) {
        out.push_back(kHex[b >> 4]);
        out.push_back(kHex[b & 15]);
    }
    return out;
}

std::string errnoText(int err) { return std::strerror(err); }

// What lstat says the path is, in words, when it is not a regular file.
std::string kindOf(mode_t mode) {
    if (S_ISLNK(mode)) return "a symbolic link";
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
    if (S_ISFIFO(mode)) return "a pipe";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a regular file";
}

}  // namespace

void writeFileAtomic(const std::string& path, const std::string& data) {
    if (path.empty()) throw std::runtime_error("no output file named");
    const auto [folder, name] = splitPath(path);
    if (name.empty() || name == "." || name == "..") throw std::runtime_error("not a file name");
    const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) throw std::runtime_error("cannot open its folder: " + errnoText(errno));
    struct DirCloser {
        int fd;
        ~DirCloser() { ::close(fd); }
    } dirCloser{dir};

    // Only a regular file is ever replaced: never what a symbolic link points to, nor a device, a
    // pipe or a directory (lstat: a link is judged itself, not followed).
    struct stat target {};
    bool existed = false;
    if (::fstatat(dir, name.c_str(), &target, AT_SYMLINK_NOFOLLOW) == 0) {
        if (!S_ISREG(target.st_mode)) throw std::runtime_error("refusing to replace " + kindOf(target.st_mode));
        existed = true;
    } else if (errno != ENOENT) {
        throw std::runtime_error("cannot check it: " + errnoText(errno));
    }

    // The temporary file: in the same folder (so the rename is atomic), under a name nobody can
    // predict, created exclusively (O_EXCL: a file or link already there is never opened).
    const std::string base = name.size() > 64 ? name.substr(0, 64) : name;
    std::string tmp;
    int fd = -1;
    for (int attempt = 0; fd < 0; ++attempt) {
        tmp = "." + base + "." + randomHex() + ".tmp";
        fd = ::openat(dir, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd < 0 && (errno != EEXIST || attempt >= 16))
            throw std::runtime_error("cannot create a temporary file beside it: " + errnoText(errno));
    }
    auto fail = [&](const std::string& what, int err) {
        if (fd >= 0) ::close(fd);
        ::unlinkat(dir, tmp.c_str(), 0);
        throw std::runtime_error(what + (err ? ": " + errnoText(err) : std::string()));
    };
    // A replaced file keeps its permission bits.
    if (existed && ::fchmod(fd, target.st_mode & 07777 & ~mode_t{S_ISUID | S_ISGID}) != 0)
        fail("cannot set its mode", errno);
    for (size_t done = 0; done < data.size();) {
        const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) fail("cannot write", n < 0 ? errno : EIO);
        done += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0) fail("cannot write", errno);
    const int closed = ::close(fd);
    fd = -1;
    if (closed != 0) fail("cannot write", errno);

    // Look again just before the rename: what was absent must still be (RENAME_NOREPLACE), what was
    // a regular file must still be one.
    if (!existed) {
        if (::renameat2(dir, tmp.c_str(), dir, name.c_str(), RENAME_NOREPLACE) == 0) return;
        if (errno == EEXIST) fail("refusing to replace what appeared there while writing", 0);
        if (errno != EINVAL && errno != ENOSYS) fail("cannot rename the temporary file", errno);
        // A file system without RENAME_NOREPLACE: check as below.
    }
    struct stat now {};
    if (::fstatat(dir, name.c_str(), &now, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(now.st_mode))
        fail("refusing to replace " + kindOf(now.st_mode), 0);
    if (::renameat(dir, tmp.c_str(), dir, name.c_str()) != 0) fail("cannot rename the temporary file", errno);
}

std::string neutraliseControls(std::string_view text, bool keepLayout) {
    std::string out;
    out.reserve(text.size());
    static const char* kReplacement = "\xEF\xBF\xBD";  // U+FFFD
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const size_t n = text.size();
    for (size_t i = 0; i < n;) {
        const unsigned char c = p[i];
        if (c < 0x20 || c == 0x7F) {  // C0 and DEL
            if (keepLayout && (c == '\n' || c == '\t'))
                out.push_back(static_cast<char>(c));
            else if (c == '\n' || c == '\r' || c == '\t')
                out.push_back(' ');
            else
                out += kReplacement;
            ++i;
            continue;
        }
        if (c < 0x80) {
            out.push_back(static_cast<char>(c));
            ++i;
            continue;
        }
        // A UTF-8 sequence: copied when well-formed and not a C1 control (U+0080..U+009F, which a
        // terminal may obey as it would ESC); anything else becomes U+FFFD, byte by byte.
        size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        bool ok = len != 0 && i + len <= n;
        for (size_t k = 1; ok && k < len; ++k) ok = (p[i + k] & 0xC0) == 0x80;
        if (ok && len == 2 && (c < 0xC2 || (c == 0xC2 && p[i + 1] < 0xA0))) ok = false;  // overlong, or C1
        if (!ok) {
            out += kReplacement;
            ++i;
            continue;
        }
        out.append(text.data() + i, len);
        i += len;
    }
    return out;
}

const std::vector<std::string>& engineOptions() {
    static const std::vector<std::string> v = {"--plugin", "--content", "--custodian", "--custodian-oid"};
    return v;
}

Session openSession(const Args& args) {
    Session s;
    s.plugin = host::Plugin::find(args.get("--plugin"));
    ppmg_engine_options opts{};
    opts.struct_size = sizeof opts;
    std::string content = args.get("--content"), custodian = args.get("--custodian"), oid = args.get("--custodian-oid");
    if (!content.empty()) opts.content_dir = content.c_str();
    if (!custodian.empty()) opts.custodian_name = custodian.c_str();
    if (!oid.empty()) opts.custodian_oid = oid.c_str();
    s.engine = std::make_unique<ppmg::Engine>(s.plugin->core(), &opts, s.plugin->abiVersion());
    return s;
}

bool openSessionOrReport(const Args& args, Session& out) {
    try {
        out = openSession(args);
        return true;
    } catch (const host::LoadError& e) {
        printError("", std::string(e.what()) + (args.has("--plugin") ? "" : " (--plugin PATH names another)"));
    } catch (const ppmg::Exception& e) {
        printException("", e);
    }
    return false;
}

void printError(const std::string& file, const std::string& message) {
    std::string line = "ppmg: ";
    if (!file.empty()) line += file + ": ";
    line += message;
    // One line, and nothing from a record or an argument that a terminal would obey.
    std::cerr << neutraliseControls(line, false) << std::endl;
}

void printException(const std::string& file, const ppmg::Exception& e, const std::string& hint) {
    std::string msg = e.what();
    std::string where;
    if (!e.resourceId().empty()) where += e.resourceId();
    if (!e.fhirPath().empty()) where += (where.empty() ? "" : " at ") + e.fhirPath();
    // The line, unless the message already gives it.
    if (e.line() > 0 && msg.find("(line ") == std::string::npos)
        where += (where.empty() ? "line " : ", line ") + std::to_string(e.line());
    if (!where.empty()) msg += " (" + where + ")";
    if (!hint.empty()) msg += "; " + hint;
    printError(e.file().empty() ? file : e.file(), msg);
}

bool isInputError(ppmg_status s) { return isInputStatus(s); }

}  // namespace ppmg::cli
