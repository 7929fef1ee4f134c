// Shared by every host program (the `ppmg` subcommands, the services, the benchmark): argument
// parsing, file reading and writing, plugin loading, messages.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "plugin_loader.hpp"
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
// Writes atomically (temp file + rename) so no partial output is ever left behind.
void writeFileAtomic(const std::string& path, const std::string& data);

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
void printException(const std::string& file, const ppmg::Exception& e);
bool isInputError(ppmg_status s);

}  // namespace ppmg::cli
