/*
 * CRC-32C (Castagnoli, the polynomial 0x1EDC6F41 reflected: 0x82F63B78), as
 * iSCSI, ext4 and btrfs use it: the checksum of the state image's records.
 */
#ifndef UML_CRC32C_H
#define UML_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue @crc (0 to start) over @len bytes of @data. */
uint32_t crc32c(uint32_t crc, const void *data, size_t len);

#endif
