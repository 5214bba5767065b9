/* st_internal.h: what st_read.c and st_write.c share; not installed.
 *
 * The CRC-32 both sides compute, the metadata keys that hold it, byte-order helpers, and the
 * writer's fault-injection seam for tests.
 */
#ifndef TG_ST_INTERNAL_H
#define TG_ST_INTERNAL_H

#include "io/safetensors.h"

#include <stddef.h>
#include <stdint.h>

#define TGI_CRC_KEY    "tapegrad.crc32"  /* checksum of the other metadata entries */
#define TGI_CRC_PREFIX "tapegrad.crc32." /* + tensor name: checksum of its bytes */

/* The CRC-32 of zlib (polynomial 0xEDB88320, reflected), continued from crc (0 to start). */
uint32_t tgi_crc32(uint32_t crc, const void *p, size_t n);

/* The checksum of metadata entries keys[i] -> vals[i], each string followed by a 0 byte. */
uint32_t tgi_crc32_meta(const char *const *keys, const char *const *vals, size_t n);

/* 1 on a little-endian host. */
int tgi_host_le(void);
/* Reverse the bytes of each of n elements of `size` bytes, in place. */
void tgi_swap_bytes(void *p, size_t n, size_t size);

/* Test seam: make the next saves of w fail as if the disk filled up once `bytes` bytes have
 * been written to the temporary file (SIZE_MAX, the default, never fails). */
void tgi_ckpt_writer_fail_after(tg_ckpt_writer *w, size_t bytes);

#endif
