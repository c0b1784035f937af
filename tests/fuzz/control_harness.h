#pragma once
// The fuzz harness of espgw's control socket: each input is one request line, handed to
// App::handle() as the control socket's server hands it, over an App started as App::start()
// starts one (control_harness.cpp, kConfig: two ring ports, a tunnel with static SAs, a route)
// but with its worker not running (tests/support/app_test_access.h). After each request the
// tables go back to where they started, so that inputs do not depend on each other.
//
// What must hold for every request, beyond no crash and no sanitizer report: the response is one
// line of a JSON object with a boolean "ok", and an "error" string when it is false; no response
// holds the config's keys (unless the request did), or a hex key that the request gave as a
// "key", "salt" or "auth_key";
// a refused request leaves the tables as they were; and the App answers "status" afterwards. A
// broken one aborts.

#include <cstddef>
#include <cstdint>
#include <memory>

namespace espgw::fuzz {

class ControlHarness {
 public:
  ControlHarness();  // starts EAL and the App; exits the process if it cannot
  ~ControlHarness();
  void run(const uint8_t* data, size_t size);

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace espgw::fuzz
