#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iterator>

#include "config/parser.h"
#include "config/yaml_documents.h"

namespace espgw::config {

void Parser::load_secrets() {
  if (!first_ike_) return;  // no tunnel uses IKE: no keys needed
  if (!config_.ike.secrets_file.empty()) {
    if (secrets_file_at_ && read_secrets(*secrets_file_at_, config_.ike.secrets_file)) {
      check_psk_refs(config_.ike.secrets_file);
    }
    return;
  }
  if (from_file_ && !secrets_file_at_) {
    error(*first_ike_,
          "needs the pre-shared keys: name their file in ike.secrets_file at the top level");
  }
}

// The secrets file: only root or espgw's own user may own it, and only its owner may read it,
// as strongSwan's own secrets files are kept. Its content is never shown.
bool Parser::read_secrets(const Value& at, const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    error(at, std::string("cannot open: ") + std::strerror(errno) + " " + quote(path));
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    error(at, std::string("cannot stat: ") + std::strerror(err) + " " + quote(path));
    return false;
  }
  bool ok = true;
  if (!S_ISREG(st.st_mode)) {
    error(at, "not a regular file " + quote(path));
    ok = false;
  } else {
    if (st.st_uid != 0 && st.st_uid != ::geteuid()) {
      error(at, "owned by uid " + std::to_string(st.st_uid) +
                    ", neither root nor the user espgw runs as (uid " +
                    std::to_string(::geteuid()) + "); fix with chown: " + quote(path));
      ok = false;
    }
    if ((st.st_mode & 077) != 0) {
      char mode[8];
      std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
      error(at,
            std::string("mode ") + mode +
                " lets group or others at the pre-shared keys; fix with chmod 600: " + quote(path));
      ok = false;
    }
  }
  std::string text;
  if (ok) {
    char buf[4096];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        error(at, std::string("cannot read: ") + std::strerror(errno) + " " + quote(path));
        ok = false;
        break;
      }
      if (n == 0) break;
      text.append(buf, static_cast<size_t>(n));
      if (text.size() > kMaxSecretsFileBytes) {
        error(at, "larger than 1 MiB; not a secrets file " + quote(path));
        ok = false;
        break;
      }
    }
    std::fill(std::begin(buf), std::end(buf), '\0');
  }
  ::close(fd);
  const size_t before = errors_.size();
  if (ok) secrets_content(text);
  std::fill(text.begin(), text.end(), '\0');
  return ok && errors_.size() == before;
}

// "psk: {NAME: SECRET, ...}". No message repeats a name or a secret of this file: a secret pasted
// where a name belongs would be shown otherwise.
void Parser::secrets_content(std::string& text) {
  YAML::Node root;
  try {
    const YamlDocuments docs = load_documents(text);
    if (docs.second_line) {
      secrets_error(*docs.second_line, "", "a second YAML document; the file is one document");
      return;
    }
    root = docs.first;
  } catch (const YAML::Exception& e) {
    // Some of yaml-cpp's messages end in the character they stumbled on: drop that part.
    const std::string what = e.msg.substr(0, e.msg.find(':'));
    secrets_error(e.mark.is_null() ? 1 : e.mark.line + 1, "", "YAML syntax error: " + what);
    return;
  }
  if (!root.IsDefined() || root.IsNull()) {
    secrets_error(1, "", "the file is empty (expected a map with \"psk\")");
    return;
  }
  if (!root.IsMap()) {
    secrets_error(line_of(root), "", "expected a map with \"psk\" (content not shown)");
    return;
  }
  std::optional<YAML::Node> psk;
  int psk_line = 0;
  for (auto it = root.begin(); it != root.end(); ++it) {
    const YAML::Node k = it->first;
    const int line = line_of(k);
    if (!k.IsScalar() || k.Scalar() != "psk") {
      secrets_error(line, "",
                    "unknown key (expected only \"psk\"; keys of this file are not shown)");
    } else if (psk) {
      secrets_error(line, "psk",
                    "duplicate key \"psk\" (first at line " + std::to_string(psk_line) + ")");
    } else {
      psk = it->second;
      psk_line = line;
    }
  }
  if (!psk) {
    if (root.size() == 0) secrets_error(line_of(root), "", "missing key \"psk\"");
    return;
  }
  if (psk->IsNull() || !psk->IsMap()) {
    secrets_error(psk_line, "psk", "expected a map of NAME: SECRET (content not shown)");
    return;
  }
  std::map<std::string, int, std::less<>> lines;
  for (auto it = psk->begin(); it != psk->end(); ++it) {
    const YAML::Node k = it->first;
    const YAML::Node secret = it->second;
    const int line = line_of(k);
    if (!k.IsScalar() || !valid_name(k.Scalar())) {
      secrets_error(line, "psk",
                    "a name that is not 1 to " + std::to_string(kMaxNameLength) +
                        " letters, digits, '-', '_' or '.' (names of this file are not shown)");
      continue;
    }
    if (auto [first, inserted] = lines.emplace(k.Scalar(), line); !inserted) {
      secrets_error(line, "psk",
                    "a name given twice (first at line " + std::to_string(first->second) +
                        "; names of this file are not shown)");
      continue;
    }
    if (secret.IsNull()) {
      secrets_error(line, "psk", "no secret on this line");
    } else if (!secret.IsScalar()) {
      secrets_error(line, "psk", "a secret must be a string (not shown)");
    } else if (secret.Scalar().empty()) {
      secrets_error(line, "psk", "an empty secret");
    } else {
      config_.secrets[k.Scalar()] = secret.Scalar();
    }
  }
}

}  // namespace espgw::config
