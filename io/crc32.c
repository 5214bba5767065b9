/* crc32.c: the CRC-32 of zlib and PNG (reflected polynomial 0xEDB88320), half a byte a step
 * from a 16-word table, and the byte-order helpers of the safetensors reader and writer. Read next: st_write.c, which stores it. */
#include "io/st_internal.h"

#include <string.h>

/* table[i] is the CRC of the 4-bit value i: two lookups a byte, no state to build. */
static const uint32_t table[16] = {
    0x00000000, 0x1DB71064, 0x3B6E20C8, 0x26D930AC, 0x76DC4190, 0x6B6B51F4, 0x4DB26158, 0x5005713C,
    0xEDB88320, 0xF00F9344, 0xD6D6A3E8, 0xCB61B38C, 0x9B64C2B0, 0x86D3D2D4, 0xA00AE278, 0xBDBDF21C,
};

uint32_t tgi_crc32(uint32_t crc, const void *p, size_t n)
{
    const unsigned char *b = p;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc = table[(crc ^ b[i]) & 15] ^ (crc >> 4);
        crc = table[(crc ^ (b[i] >> 4)) & 15] ^ (crc >> 4);
    }
    return ~crc;
}

uint32_t tgi_crc32_meta(const char *const *keys, const char *const *vals, size_t n)
{
    uint32_t crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc = tgi_crc32(crc, keys[i], strlen(keys[i]) + 1);
        crc = tgi_crc32(crc, vals[i], strlen(vals[i]) + 1);
    }
    return crc;
}

int tgi_host_le(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

void tgi_swap_bytes(void *p, size_t n, size_t size)
{
    unsigned char *c = p;
    for (size_t i = 0; i < n; i++, c += size)
        for (size_t a = 0, z = size - 1; a < z; a++, z--) {
            unsigned char t = c[a];
            c[a] = c[z];
            c[z] = t;
        }
}
