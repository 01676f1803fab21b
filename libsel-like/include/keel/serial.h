/* The serial driver's channel protocol (servers/serial). A client opens a channel to the service
 * "serial" through init (keel/initsvc.h) and submits requests (struct keel_channel_desc):
 *   KEEL_SERIAL_WRITE: write `length` bytes from the data area at `offset`; completes when they
 *                      are in the UART (status = bytes written).
 *   KEEL_SERIAL_READ:  read up to `length` bytes into the data area at `offset`; completes once at
 *                      least one byte has arrived (status = length = bytes read). */
#ifndef KEEL_SERIAL_H
#define KEEL_SERIAL_H

#define KEEL_SERIAL_SERVICE "serial"
#define KEEL_SERIAL_WRITE 1u
#define KEEL_SERIAL_READ 2u

#endif
