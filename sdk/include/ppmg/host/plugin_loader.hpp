// The loader: finds the ppmg plugin, loads it (dlopen), agrees on the ABI version, tells the
// plugin where it was loaded from, and hands out its core function table.
//
//   #include <ppmg/host/plugin_loader.hpp>   (the same in the source tree and when installed)
//
// C++17 and the C++ standard library only: the library behind it (ppmg::host, libppmg_host.a)
// links nothing but libdl, so a host takes on no other dependency.
#ifndef PPMG_HOST_PLUGIN_LOADER_HPP
#define PPMG_HOST_PLUGIN_LOADER_HPP

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "ppmg/ppmg.h"

namespace ppmg::host {

class LoadError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Where to look for libppmg_plugin.so beside an executable: its own folder, then ../lib,
// ../lib/<multiarch> and ../lib/ppmg (the installed layout).
std::vector<std::string> pluginCandidates(const std::string& executableDir);
// The folder of the running executable (from /proc/self/exe).
std::string executableDir();

// The oldest ABI minor the loader accepts, and the size of that minor's core table: a plugin of
// ABI 1.0 still loads into a host built with newer headers, which checks a member added since
// (PPMG_CORE_API_HAS) before calling it. ppmg::Engine does.
constexpr uint32_t kOldestMinor = 0;
constexpr size_t kOldestCoreSize = offsetof(ppmg_core_api_v1, assess_and_render);  // the ABI 1.0 table

class Plugin {
public:
    // Loads the library at path, agrees on an ABI version from (PPMG_ABI_VERSION_MAJOR).
    // kOldestMinor to PPMG_ABI_VERSION (negotiate_version on a 1.2 plugin, negotiate on an older
    // one), and calls the plugin's init with the library's absolute path when it has one. Throws
    // LoadError with a message naming the path and what was wrong.
    explicit Plugin(const std::string& path);
    ~Plugin();
    Plugin(const Plugin&) = delete;
    Plugin& operator=(const Plugin&) = delete;

    // Loads the first candidate that exists; throws LoadError listing where it looked.
    static std::unique_ptr<Plugin> find(const std::string& explicitPath = "");

    const ppmg_core_api_v1& core() const { return *core_; }
    const ppmg_plugin_entry& entry() const { return *entry_; }
    // The absolute path the library was loaded from.
    const std::string& path() const { return path_; }
    // The ABI version both sides agreed on (PPMG_ABI_VERSION or older): pass it to ppmg::Engine.
    uint32_t abiVersion() const { return abiVersion_; }

private:
    struct Impl;  // the dlopen handle
    std::unique_ptr<Impl> impl_;
    const ppmg_plugin_entry* entry_ = nullptr;
    const ppmg_core_api_v1* core_ = nullptr;
    std::string path_;
    uint32_t abiVersion_ = 0;
};

}  // namespace ppmg::host

#endif  // PPMG_HOST_PLUGIN_LOADER_HPP
