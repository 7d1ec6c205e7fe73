// A fresh directory under /tmp for one test, removed with everything in it at the end.
#pragma once

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>

namespace skedd::test {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "skedd-test") {
    std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(const std::string& relative) const { return path_ + "/" + relative; }

  /// Writes `text` to `relative` (parent directories created) and sets `mode` exactly, so
  /// the process umask does not matter. Returns the full path; throws on failure.
  std::string write(const std::string& relative, const std::string& text,
                    mode_t mode = 0644) const {
    const std::filesystem::path p = std::filesystem::path(path_) / relative;
    std::filesystem::create_directories(p.parent_path());
    {
      std::ofstream out(p, std::ios::binary | std::ios::trunc);
      out << text;
      if (!out) throw std::runtime_error("cannot write " + p.string());
    }
    if (::chmod(p.c_str(), mode) != 0) throw std::runtime_error("cannot chmod " + p.string());
    return p.string();
  }

 private:
  std::string path_;
};

}  // namespace skedd::test
