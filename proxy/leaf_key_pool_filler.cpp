// The RSA key pool's filler thread.
#include "proxy/leaf_key_pool_filler.hpp"

#include <pthread.h>

namespace hoplens::proxy {

leaf_key_pool_filler::leaf_key_pool_filler(std::shared_ptr<certs::leaf_key_pool> pool,
                                           certs::key_type type)
    : thread_([pool = std::move(pool), type](std::stop_token stop) {
          ::pthread_setname_np(::pthread_self(), "hoplens-keygen");
          while (pool->wait_for_room(stop)) {
              auto key = certs::generate_key(type);
              if (!std::holds_alternative<certs::evp_pkey_ptr>(key)) {
                  return;
              }
              pool->add(std::move(std::get<certs::evp_pkey_ptr>(key)));
          }
      }) {}

leaf_key_pool_filler::~leaf_key_pool_filler() {
    thread_.request_stop(); // wakes wait_for_room; the jthread joins on destruction
}

} // namespace hoplens::proxy
