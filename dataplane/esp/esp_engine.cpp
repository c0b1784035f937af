#include "dataplane/esp/esp_engine.h"

namespace espgw::esp {

EspEngine::EspEngine(crypto::CryptoBackend& backend, uint32_t worker_index)
    : backend_(backend), index_(worker_index), resync_buf_(std::make_unique<uint8_t[]>(65536)) {
  ip_id_ = static_cast<uint16_t>(iv_.next64());
}

void EspEngine::count_drops(std::span<Sa* const> sas,
                            std::span<const DropReason> reasons) noexcept {
  for (size_t i = 0; i < reasons.size(); ++i) {
    const DropReason r = reasons[i];
    if (r == DropReason::kNone) continue;
    drops_.add(r);
    if (sas[i] != nullptr) sas[i]->drops_[static_cast<size_t>(r)].add();
  }
}

}  // namespace espgw::esp
