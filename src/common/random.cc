#include "common/random.h"

#include <openssl/rand.h>

#include "common/assert.h"

namespace cleave {

std::string os_random_bytes(size_t n) {
    std::string out(n, '\0');
    CLEAVE_ASSERT(
        RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) == 1,
        "RAND_bytes failed");
    return out;
}

}  // namespace cleave
