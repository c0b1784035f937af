#pragma once
// Writing a whole buffer to a file descriptor, through short writes and EINTR.

#include <string_view>

namespace espgw {

// 0 once every byte is written, else the errno of the write that failed.
int write_all(int fd, std::string_view data) noexcept;

}  // namespace espgw
