#include "common/write_all.h"

#include <unistd.h>

#include <cerrno>

namespace espgw {

int write_all(int fd, std::string_view data) noexcept {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    done += static_cast<size_t>(n);
  }
  return 0;
}

}  // namespace espgw
