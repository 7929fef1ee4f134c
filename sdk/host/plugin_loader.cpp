#include "ppmg/host/plugin_loader.hpp"

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>

namespace ppmg::host {

struct Plugin::Impl {
    void* handle = nullptr;
};

namespace {

std::string versionText(uint32_t v) {
    return std::to_string(PPMG_ABI_MAJOR_OF(v)) + "." + std::to_string(PPMG_ABI_MINOR_OF(v));
}

bool exists(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
}

// The folder part of a path ("." for a bare name), without a trailing slash.
std::string parentOf(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

// The path made absolute and free of symbolic links and "..", so the plugin's init gets the folder
// the library really sits in; the path itself if it cannot be resolved.
std::string absolutePath(const std::string& path) {
    char* real = ::realpath(path.c_str(), nullptr);
    if (!real) return path;
    std::string out(real);
    std::free(real);
    return out;
}

}  // namespace

std::string executableDir() {
    char buf[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return ".";
    buf[n] = '\0';
    return parentOf(buf);
}

std::vector<std::string> pluginCandidates(const std::string& dir) {
    const std::string name = "libppmg_plugin.so";
    std::string base = dir.empty() ? "." : dir;
    while (base.size() > 1 && base.back() == '/') base.pop_back();
    const std::string lib = parentOf(base) + (parentOf(base) == "/" ? "" : "/") + "lib";
    std::vector<std::string> out;
    out.push_back(base + "/" + name);
    out.push_back(lib + "/" + name);
#ifdef __x86_64__
    out.push_back(lib + "/x86_64-linux-gnu/" + name);
#endif
#ifdef __aarch64__
    out.push_back(lib + "/aarch64-linux-gnu/" + name);
#endif
    out.push_back(lib + "/ppmg/" + name);
    return out;
}

Plugin::Plugin(const std::string& path) : impl_(new Impl), path_(absolutePath(path)) {
    // A path with no slash would make dlopen search the library path instead of this file.
    const std::string toLoad = path_.find('/') == std::string::npos ? "./" + path_ : path_;
    impl_->handle = ::dlopen(toLoad.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!impl_->handle) {
        const char* why = ::dlerror();
        throw LoadError("cannot load plugin " + path + ": " + (why ? why : "dlopen failed"));
    }
    // The library stays mapped from here on (see ~Plugin), so a failure below needs no dlclose.
    ::dlerror();
    void* symbol = ::dlsym(impl_->handle, PPMG_ENTRY_SYMBOL);
    if (!symbol) throw LoadError("not a ppmg plugin (no " PPMG_ENTRY_SYMBOL " symbol): " + path);
    entry_ = static_cast<const ppmg_plugin_entry*>(symbol);
    const uint32_t theirs = entry_->abi_version;
    // This loader and ppmg.hpp work with any plugin of this major from minor kOldestMinor on: a
    // member appended later (assess_and_render, 1.1) is called only after PPMG_CORE_API_HAS.
    const uint32_t oldest = (PPMG_ABI_VERSION_MAJOR << 16) | kOldestMinor;
    const std::string refused = "plugin " + path + " speaks ABI " + versionText(theirs) + ", this host needs " +
                                versionText(oldest) + " to " + std::to_string(PPMG_ABI_VERSION_MAJOR) + ".x";
    if (PPMG_ABI_MAJOR_OF(theirs) != PPMG_ABI_VERSION_MAJOR) throw LoadError(refused);
    if (PPMG_ENTRY_HAS_1_2(entry_)) {
        // ABI 1.2: the plugin answers with the version both speak.
        uint32_t agreed = PPMG_ABI_VERSION;
        if (!entry_->negotiate_version || entry_->negotiate_version(&agreed) != PPMG_OK ||
            PPMG_ABI_MAJOR_OF(agreed) != PPMG_ABI_VERSION_MAJOR || PPMG_ABI_MINOR_OF(agreed) < kOldestMinor ||
            PPMG_ABI_MINOR_OF(agreed) > PPMG_ABI_VERSION_MINOR)
            throw LoadError(refused);
        abiVersion_ = agreed;
    } else {
        // An older plugin: it accepts or refuses the oldest version this host can work with, and
        // then speaks its own version (older than this host's, or it would have the 1.2 members).
        if (!entry_->negotiate || entry_->negotiate(oldest) != PPMG_OK) throw LoadError(refused);
        abiVersion_ = theirs;
    }
    if (PPMG_ABI_MINOR_OF(abiVersion_) >= 2) {
        if (!entry_->init) throw LoadError("plugin " + path + " speaks ABI 1.2 but has no init");
        const ppmg_status s = entry_->init(path_.c_str());
        if (s != PPMG_OK) throw LoadError("plugin " + path + " refused its init (status " + std::to_string(s) + ")");
    }
    core_ = static_cast<const ppmg_core_api_v1*>(entry_->get_api(PPMG_CORE_API_ID));
    if (!core_ || core_->struct_size < kOldestCoreSize)
        throw LoadError("plugin " + path + " has no usable " PPMG_CORE_API_ID " table");
}

Plugin::~Plugin() {
    // The library stays mapped: engines and buffers the host still holds point into it.
}

std::unique_ptr<Plugin> Plugin::find(const std::string& explicitPath) {
    if (!explicitPath.empty()) {
        if (!exists(explicitPath)) throw LoadError("plugin not found: " + explicitPath);
        return std::make_unique<Plugin>(explicitPath);
    }
    std::string looked;
    for (const auto& candidate : pluginCandidates(executableDir())) {
        if (exists(candidate)) return std::make_unique<Plugin>(candidate);
        looked += (looked.empty() ? "" : ", ") + candidate;
    }
    throw LoadError("plugin libppmg_plugin.so not found (looked in " + looked + ")");
}

}  // namespace ppmg::host
