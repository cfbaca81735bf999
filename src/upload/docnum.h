/* docnum.h: identity document numbers: validation where a format exists, and masking.
 *
 * Aadhaar (UIDAI): 12 digits, the first neither 0 nor 1, the last a Verhoeff check digit over the
 * other eleven. PAN (Income Tax Department): five letters, four digits, one letter (AAAAA9999A).
 * Other document types have no single national format: 1 to 32 letters, digits, '-' and '/'.
 * Spaces and hyphens between Aadhaar digit groups ("2341 2341 2346") and spaces in a PAN are
 * dropped; letters are upper-cased.
 *
 * A number is only ever stored or shown masked: every character but the last four becomes 'X'
 * ("XXXXXXXX2346"). Callers must never log a full number. Sans-I/O. */
#ifndef BH_UPLOAD_DOCNUM_H
#define BH_UPLOAD_DOCNUM_H

#include "upload/doctype.h"

#include <stddef.h>

#define UPLOAD_DOCNUM_MAX 32 /* characters of a normalised number */

/* 1 if digits[0..n) (ASCII digits only) passes the Verhoeff check (its last digit is the check
 * digit of the others). */
int upload_verhoeff_valid(const char *digits, size_t n);
/* The Verhoeff check digit ('0'..'9') for digits[0..n). */
char upload_verhoeff_digit(const char *digits, size_t n);

/* Normalises and validates number for type t, writing the masked form into masked (cap >=
 * UPLOAD_DOCNUM_MAX + 1). Returns 0, or BH_EINVAL with *why set to a static reason for the
 * message ("12 digits, with a valid Verhoeff check digit", ...). */
int upload_docnum_check(upload_doctype_t t, const char *number, char *masked, size_t cap,
                        const char **why);

#endif
