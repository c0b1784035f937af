#include "dataplane/esp/esp_engine.h"

namespace espgw::esp {

EspEngine::EspEngine(crypto::CryptoBackend& backend, uint32_t worker_index)
    : backend_(backend),
      index_(worker_index),
      resync_buf_(std::make_unique<uint8_t[]>(65536)),
      deferred_(std::make_unique<Deferred[]>(kDeferredSlots)) {
  ip_id_ = static_cast<uint16_t>(iv_.next64());
}

void EspEngine::count_drops(std::span<Sa* const> sas,
                            std::span<const DropReason> reasons) noexcept {
  for (size_t i = 0; i < reasons.size(); ++i) {
    const DropReason r = reasons[i];
    if (r == DropReason::kNone || r == kDeferred) continue;
    drops_.add(r);
    if (sas[i] != nullptr) sas[i]->add_drop(r);
  }
}

void EspEngine::submit_committed(bool enc) noexcept {
  if (nsubmit_ == 0) return;
  backend_.submit(std::span(submit_.data(), nsubmit_), enc);
  deferred_total_ += nsubmit_;
}

bool EspEngine::reap(Reaped& out) noexcept {
  if (head_ == tail_ || !deferred_[head_ % kDeferredSlots].op.done) {
    flush_traffic(reap_run_);
    return false;
  }
  Deferred& d = deferred_[head_++ % kDeferredSlots];
  const DropReason r = d.outbound ? finish_outbound(d) : finish_deferred_inbound(d);
  if (r != DropReason::kNone && r != DropReason::kDummy) count_drop(d.sa, r);
  out.view = d.view;
  out.tag = d.tag;
  out.sa = d.sa;
  out.reason = r;
  out.outbound = d.outbound;
  return true;
}

void EspEngine::count_keepalive_in(Sa& sa) noexcept {
  SaCounters& c = sa.counters_for(index_);
  c.keepalives.add();
  c.last_use_ns.set(now_ns_);
  keepalives_in_.add();
}

}  // namespace espgw::esp
