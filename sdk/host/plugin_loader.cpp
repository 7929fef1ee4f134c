#include "plugin_loader.hpp"

#include <Poco/File.h>
#include <Poco/Path.h>
#include <Poco/SharedLibrary.h>

#include <unistd.h>
#include <climits>

namespace ppmg::host {

struct Plugin::Impl {
    Poco::SharedLibrary library;
};

std::string executableDir() {
    char buf[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return ".";
    buf[n] = '\0';
    return Poco::Path(std::string(buf)).parent().toString();
}

std::vector<std::string> pluginCandidates(const std::string& dir) {
    const std::string name = "libppmg_plugin.so";
    Poco::Path base(dir);
    base.makeDirectory();
    std::vector<std::string> out;
    out.push_back(Poco::Path(base, name).toString());
    Poco::Path lib(base);
    lib.popDirectory();
    lib.pushDirectory("lib");
    out.push_back(Poco::Path(lib, name).toString());
#ifdef __x86_64__
    out.push_back(Poco::Path(Poco::Path(lib).pushDirectory("x86_64-linux-gnu"), name).toString());
#endif
#ifdef __aarch64__
    out.push_back(Poco::Path(Poco::Path(lib).pushDirectory("aarch64-linux-gnu"), name).toString());
#endif
    out.push_back(Poco::Path(Poco::Path(lib).pushDirectory("ppmg"), name).toString());
    return out;
}

Plugin::Plugin(const std::string& path) : impl_(new Impl), path_(path) {
    try {
        impl_->library.load(path);
    } catch (const Poco::Exception& e) {
        throw LoadError("cannot load plugin " + path + ": " + e.displayText());
    }
    if (!impl_->library.hasSymbol(PPMG_ENTRY_SYMBOL))
        throw LoadError("not a ppmg plugin (no " PPMG_ENTRY_SYMBOL " symbol): " + path);
    entry_ = static_cast<const ppmg_plugin_entry*>(impl_->library.getSymbol(PPMG_ENTRY_SYMBOL));
    const uint32_t theirs = entry_->abi_version;
    // This loader and ppmg.hpp work with any plugin of this major from minor kOldestMinor on: a
    // member appended later (assess_and_render, 1.1) is called only after PPMG_CORE_API_HAS.
    const uint32_t needed = (PPMG_ABI_VERSION_MAJOR << 16) | kOldestMinor;
    if (PPMG_ABI_MAJOR_OF(theirs) != PPMG_ABI_VERSION_MAJOR || !entry_->negotiate ||
        entry_->negotiate(needed) != PPMG_OK)
        throw LoadError("plugin " + path + " speaks ABI " + std::to_string(PPMG_ABI_MAJOR_OF(theirs)) + "." +
                        std::to_string(PPMG_ABI_MINOR_OF(theirs)) + ", this host needs " +
                        std::to_string(PPMG_ABI_VERSION_MAJOR) + "." + std::to_string(kOldestMinor) + " to " +
                        std::to_string(PPMG_ABI_VERSION_MAJOR) + ".x");
    core_ = static_cast<const ppmg_core_api_v1*>(entry_->get_api(PPMG_CORE_API_ID));
    if (!core_ || core_->struct_size < kOldestCoreSize)
        throw LoadError("plugin " + path + " has no usable " PPMG_CORE_API_ID " table");
}

Plugin::~Plugin() {
    // The library stays mapped: engines and buffers the host still holds point into it.
}

std::unique_ptr<Plugin> Plugin::find(const std::string& explicitPath) {
    if (!explicitPath.empty()) {
        if (!Poco::File(explicitPath).exists()) throw LoadError("plugin not found: " + explicitPath);
        return std::make_unique<Plugin>(explicitPath);
    }
    std::string looked;
    for (const auto& candidate : pluginCandidates(executableDir())) {
        if (Poco::File(candidate).exists()) return std::make_unique<Plugin>(candidate);
        looked += (looked.empty() ? "" : ", ") + candidate;
    }
    throw LoadError("plugin libppmg_plugin.so not found (looked in " + looked + "); use --plugin PATH");
}

}  // namespace ppmg::host
