// Shared by every host program (the `ppmg` subcommands, the services, the benchmark): argument
// parsing, file reading and writing, plugin loading, messages.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <ppmg/host/plugin_loader.hpp>
#include "ppmg/ppmg.hpp"

namespace ppmg::cli {

// Exit statuses: 0 success, 1 failure of the tool or environment, 2 bad input or usage.
enum Exit { kOk = 0, kFailure = 1, kBadInput = 2 };

struct Args {
    std::map<std::string, std::vector<std::string>> options;  // "--as-of" -> values
    std::vector<std::string> positional;
    bool has(const std::string& k) const { return options.count(k) != 0; }
    std::string get(const std::string& k, const std::string& dflt = "") const {
        auto it = options.find(k);
        return it == options.end() || it->second.empty() ? dflt : it->second.back();
    }
    // A whole-number option from min to max (dflt when absent); throws std::invalid_argument
    // naming the option and the range otherwise.
    long number(const char* key, long dflt, long min, long max) const;
};

// Parses argv[first..]: options with values (`valued`) and flags (`flags`); anything else
// starting with '-' is an error. Throws std::invalid_argument with a message.
Args parseArgs(int argc, char** argv, int first, const std::vector<std::string>& valued,
               const std::vector<std::string>& flags);

// The plugin's default ppmg_limits.max_input_bytes: a record larger than this is refused unread.
constexpr size_t kDefaultMaxInputBytes = size_t{64} << 20;
// Reads a file ('-' = stdin); throws std::runtime_error. Stops, and throws, past maxBytes, so an
// endless input (/dev/zero, a pipe that never ends) is refused instead of filling memory.
std::string readFile(const std::string& path, size_t maxBytes = static_cast<size_t>(-1));
// Writes path atomically and safely; throws std::runtime_error saying why not. The data goes to a
// temporary file created exclusively (O_EXCL | O_NOFOLLOW) under an unpredictable name in path's
// folder, then renamed over path, so path holds the old content or the whole new content, never a
// part. Only a regular file is replaced: a symbolic link (never followed), a device, a pipe or a
// directory at path is refused. A replaced file keeps its permission bits.
void writeFileAtomic(const std::string& path, const std::string& data);

// Text for a terminal: C0 controls and DEL, C1 controls (U+0080..U+009F) and malformed UTF-8
// become U+FFFD, so record data cannot move the cursor, retitle the window or ring the bell.
// keepLayout keeps '\n' and '\t' (a text document's own lines); otherwise they become spaces.
std::string neutraliseControls(std::string_view text, bool keepLayout);

// Loads the plugin (--plugin or beside the executable) and creates an engine with the
// options every command shares (--content, --custodian, --custodian-oid).
struct Session {
    std::unique_ptr<host::Plugin> plugin;
    std::unique_ptr<ppmg::Engine> engine;
};
Session openSession(const Args& args);
// openSession that reports a failure (one line on stderr) instead of throwing; false on failure.
bool openSessionOrReport(const Args& args, Session& out);

// The options every engine-using command accepts.
const std::vector<std::string>& engineOptions();

// "ppmg: <file>: <message>" on stderr, one line.
void printError(const std::string& file, const std::string& message);
// The exception's message and location, then "; <hint>" when there is one (e.g. the option that
// fixes it: the plugin's own messages name no command-line option).
void printException(const std::string& file, const ppmg::Exception& e, const std::string& hint = "");
bool isInputError(ppmg_status s);

}  // namespace ppmg::cli
