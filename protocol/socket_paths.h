#pragma once
// Where the sockets are: espgw's control socket (the config's dataplane.control_socket) and
// espgw-ike's status socket (espgw-ike.sock in the folder of the config's ike.vici_socket), as
// the clients find them from a config file and espgw-ike places its own. Only those two members of
// the file are read, so that a client still finds the socket of a config that espgw would refuse
// for some other reason. The defaults are config/config.h's.

#include <string>

namespace espgw::protocol {

inline constexpr const char* kDefaultConfig = "/etc/espgw/espgw.yaml";
inline constexpr const char* kDefaultControlSocket = "/run/espgw/espgw.sock";
inline constexpr const char* kDefaultViciSocket = "/run/espgw/charon.vici";
inline constexpr const char* kIkeSocketName = "espgw-ike.sock";
inline constexpr const char* kDefaultIkeSocket = "/run/espgw/espgw-ike.sock";

// dataplane.control_socket of the YAML file at `config_path`, else the default. Throws
// std::runtime_error for a file that cannot be read or is not a YAML map.
std::string control_socket_from_config(const std::string& config_path);
// espgw-ike's status socket beside charon's VICI socket.
std::string ike_socket_for(const std::string& vici_socket);
// ike_socket_for(ike.vici_socket of the file, else the default); throws as above.
std::string ike_socket_from_config(const std::string& config_path);

}  // namespace espgw::protocol
