#pragma once
// Files for the config tests: a temporary directory, and loading an example whose IKE secrets file
// (an absolute path such as /etc/espgw/NAME.secrets.yaml) is replaced by a copy of the example's
// NAME.secrets.yaml with mode 0600, since git does not keep file modes.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "config/config.h"

namespace espgw::config::test_files {

// A fresh directory under the system's temporary directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "espgw_config_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

  // Writes `text` to NAME in the directory with the given mode; returns the full path.
  std::string write(const std::string& name, const std::string& text,
                    std::filesystem::perms mode = std::filesystem::perms::owner_read |
                                                  std::filesystem::perms::owner_write) const {
    const auto p = path_ / name;
    std::filesystem::remove(p);  // it may be read-only from an earlier write
    {
      std::ofstream out(p, std::ios::binary | std::ios::trunc);
      out << text;
    }
    std::filesystem::permissions(p, mode);
    return p.string();
  }

 private:
  std::filesystem::path path_;
};

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline bool is_secrets_example(const std::filesystem::path& p) {
  return p.filename().string().ends_with(".secrets.yaml");
}

// Loads an example config. One that names "secrets_file: /ABSOLUTE/NAME.secrets.yaml" is loaded
// from a copy in `dir` that names a 0600 copy of the example's NAME.secrets.yaml instead.
inline Config load_example(const std::filesystem::path& example, const TempDir& dir) {
  std::string text = read_text(example);
  constexpr std::string_view kKey = "secrets_file: ";
  const size_t at = text.find(kKey);
  if (at == std::string::npos) return load_file(example.string());
  const size_t begin = at + kKey.size();
  const size_t end = text.find_first_of(" \n", begin);
  const std::filesystem::path named = text.substr(begin, end - begin);
  const std::string secrets =
      dir.write(named.filename().string(), read_text(example.parent_path() / named.filename()));
  text.replace(begin, end - begin, secrets);
  return load_file(dir.write(example.filename().string(), text));
}

}  // namespace espgw::config::test_files
