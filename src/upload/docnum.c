/* docnum.c: Aadhaar (Verhoeff), PAN and generic document numbers, and masking. */
#include "upload/docnum.h"

#include "core/err.h"

#include <ctype.h>
#include <string.h>

/* Verhoeff's dihedral group D5: multiplication, the position permutation, and inverses. */
static const unsigned char vd[10][10] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 2, 3, 4, 0, 6, 7, 8, 9, 5}, {2, 3, 4, 0, 1, 7, 8, 9, 5, 6},
    {3, 4, 0, 1, 2, 8, 9, 5, 6, 7}, {4, 0, 1, 2, 3, 9, 5, 6, 7, 8}, {5, 9, 8, 7, 6, 0, 4, 3, 2, 1},
    {6, 5, 9, 8, 7, 1, 0, 4, 3, 2}, {7, 6, 5, 9, 8, 2, 1, 0, 4, 3}, {8, 7, 6, 5, 9, 3, 2, 1, 0, 4},
    {9, 8, 7, 6, 5, 4, 3, 2, 1, 0}};
static const unsigned char vp[8][10] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 5, 7, 6, 2, 8, 3, 0, 9, 4}, {5, 8, 0, 3, 7, 9, 6, 1, 4, 2},
    {8, 9, 1, 6, 0, 4, 3, 5, 2, 7}, {9, 4, 5, 3, 1, 2, 6, 8, 7, 0}, {4, 2, 8, 6, 5, 7, 3, 9, 0, 1},
    {2, 7, 9, 3, 8, 0, 6, 4, 1, 5}, {7, 0, 4, 6, 9, 1, 3, 2, 5, 8}};
static const unsigned char vinv[10] = {0, 4, 3, 2, 1, 5, 6, 7, 8, 9};

/* Digits are processed right to left; first is the position of the rightmost digit. */
static unsigned verhoeff(const char *d, size_t n, size_t first)
{
    unsigned c = 0;
    for (size_t i = 0; i < n; i++)
        c = vd[c][vp[(i + first) % 8][d[n - 1 - i] - '0']];
    return c;
}

int upload_verhoeff_valid(const char *digits, size_t n)
{
    return n > 0 && verhoeff(digits, n, 0) == 0;
}

char upload_verhoeff_digit(const char *digits, size_t n)
{
    return (char)('0' + vinv[verhoeff(digits, n, 1)]);
}

static void mask(const char *s, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < cap; i++)
        out[k++] = i + 4 < n ? 'X' : s[i];
    out[k] = '\0';
}

int upload_docnum_check(upload_doctype_t t, const char *number, char *masked, size_t cap,
                        const char **why)
{
    char n[UPLOAD_DOCNUM_MAX + 1];
    size_t len = 0;
    masked[0] = '\0';
    for (const char *p = number; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == ' ' || (c == '-' && t == UPLOAD_DOC_AADHAAR)) continue;
        if (len == UPLOAD_DOCNUM_MAX) {
            *why = "at most 32 characters";
            return BH_EINVAL;
        }
        n[len++] = (char)toupper(c);
    }
    n[len] = '\0';
    if (t == UPLOAD_DOC_AADHAAR) {
        int ok = len == 12;
        for (size_t i = 0; ok && i < len; i++)
            ok = n[i] >= '0' && n[i] <= '9';
        if (!ok || n[0] == '0' || n[0] == '1' || !upload_verhoeff_valid(n, len)) {
            *why = "an Aadhaar number is 12 digits, not starting with 0 or 1, ending in a valid "
                   "Verhoeff check digit";
            return BH_EINVAL;
        }
    } else if (t == UPLOAD_DOC_PAN_CARD) {
        int ok = len == 10;
        for (size_t i = 0; ok && i < 10; i++)
            ok = (i >= 5 && i < 9) ? (n[i] >= '0' && n[i] <= '9') : (n[i] >= 'A' && n[i] <= 'Z');
        if (!ok) {
            *why = "a PAN is five letters, four digits and a letter (AAAAA9999A)";
            return BH_EINVAL;
        }
    } else {
        int ok = len >= 1;
        for (size_t i = 0; ok && i < len; i++)
            ok = isalnum((unsigned char)n[i]) || n[i] == '-' || n[i] == '/';
        if (!ok) {
            *why = "1 to 32 letters, digits, '-' or '/'";
            return BH_EINVAL;
        }
    }
    mask(n, len, masked, cap);
    return 0;
}
