/*
 * match.c - keyword matching over UTF-8 text.
 *
 * The text is folded once (case folded, white space collapsed, soft hyphens
 * and zero-width spaces dropped) into a second buffer with a map from each
 * folded byte back to its source offset; every keyword, folded the same
 * way, is then found with memmem and its edges checked for word
 * boundaries.  Folding costs one pass with an ASCII fast path; memmem is
 * the C library's (two-way, vectorised), so a 10 KB page with a handful of
 * keywords is searched in microseconds.
 *
 * The tables below were generated from Python 3's unicodedata (Unicode
 * 14.0):
 *
 *   fold: for each assigned cp >= 0x80, c.casefold() when it is one
 *         character, else c.lower() when it is one character; runs of
 *         (lo, hi, delta, stride) with stride 1 or 2.
 *   nonword: ranges of cp >= 0x80 whose category is P*, S*, Z*, Cc or Cf
 *         (letters, marks and numbers are word characters; unassigned and
 *         private-use code points count as letters).
 */
#define _GNU_SOURCE /* memmem */
#include "match.h"

#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

struct fold_run {
	uint32_t lo, hi;
	int32_t delta;
	uint32_t stride;
};

static const struct fold_run fold_runs[] = {
	{0x00B5, 0x00B5, 775, 1},    {0x00C0, 0x00D6, 32, 1},     {0x00D8, 0x00DE, 32, 1},
	{0x0100, 0x012E, 1, 2},      {0x0132, 0x0136, 1, 2},      {0x0139, 0x0147, 1, 2},
	{0x014A, 0x0176, 1, 2},      {0x0178, 0x0178, -121, 1},   {0x0179, 0x017D, 1, 2},
	{0x017F, 0x017F, -268, 1},   {0x0181, 0x0181, 210, 1},    {0x0182, 0x0184, 1, 2},
	{0x0186, 0x0186, 206, 1},    {0x0187, 0x0187, 1, 1},      {0x0189, 0x018A, 205, 1},
	{0x018B, 0x018B, 1, 1},      {0x018E, 0x018E, 79, 1},     {0x018F, 0x018F, 202, 1},
	{0x0190, 0x0190, 203, 1},    {0x0191, 0x0191, 1, 1},      {0x0193, 0x0193, 205, 1},
	{0x0194, 0x0194, 207, 1},    {0x0196, 0x0196, 211, 1},    {0x0197, 0x0197, 209, 1},
	{0x0198, 0x0198, 1, 1},      {0x019C, 0x019C, 211, 1},    {0x019D, 0x019D, 213, 1},
	{0x019F, 0x019F, 214, 1},    {0x01A0, 0x01A4, 1, 2},      {0x01A6, 0x01A6, 218, 1},
	{0x01A7, 0x01A7, 1, 1},      {0x01A9, 0x01A9, 218, 1},    {0x01AC, 0x01AC, 1, 1},
	{0x01AE, 0x01AE, 218, 1},    {0x01AF, 0x01AF, 1, 1},      {0x01B1, 0x01B2, 217, 1},
	{0x01B3, 0x01B5, 1, 2},      {0x01B7, 0x01B7, 219, 1},    {0x01B8, 0x01B8, 1, 1},
	{0x01BC, 0x01BC, 1, 1},      {0x01C4, 0x01C4, 2, 1},      {0x01C5, 0x01C5, 1, 1},
	{0x01C7, 0x01C7, 2, 1},      {0x01C8, 0x01C8, 1, 1},      {0x01CA, 0x01CA, 2, 1},
	{0x01CB, 0x01DB, 1, 2},      {0x01DE, 0x01EE, 1, 2},      {0x01F1, 0x01F1, 2, 1},
	{0x01F2, 0x01F4, 1, 2},      {0x01F6, 0x01F6, -97, 1},    {0x01F7, 0x01F7, -56, 1},
	{0x01F8, 0x021E, 1, 2},      {0x0220, 0x0220, -130, 1},   {0x0222, 0x0232, 1, 2},
	{0x023A, 0x023A, 10795, 1},  {0x023B, 0x023B, 1, 1},      {0x023D, 0x023D, -163, 1},
	{0x023E, 0x023E, 10792, 1},  {0x0241, 0x0241, 1, 1},      {0x0243, 0x0243, -195, 1},
	{0x0244, 0x0244, 69, 1},     {0x0245, 0x0245, 71, 1},     {0x0246, 0x024E, 1, 2},
	{0x0345, 0x0345, 116, 1},    {0x0370, 0x0372, 1, 2},      {0x0376, 0x0376, 1, 1},
	{0x037F, 0x037F, 116, 1},    {0x0386, 0x0386, 38, 1},     {0x0388, 0x038A, 37, 1},
	{0x038C, 0x038C, 64, 1},     {0x038E, 0x038F, 63, 1},     {0x0391, 0x03A1, 32, 1},
	{0x03A3, 0x03AB, 32, 1},     {0x03C2, 0x03C2, 1, 1},      {0x03CF, 0x03CF, 8, 1},
	{0x03D0, 0x03D0, -30, 1},    {0x03D1, 0x03D1, -25, 1},    {0x03D5, 0x03D5, -15, 1},
	{0x03D6, 0x03D6, -22, 1},    {0x03D8, 0x03EE, 1, 2},      {0x03F0, 0x03F0, -54, 1},
	{0x03F1, 0x03F1, -48, 1},    {0x03F4, 0x03F4, -60, 1},    {0x03F5, 0x03F5, -64, 1},
	{0x03F7, 0x03F7, 1, 1},      {0x03F9, 0x03F9, -7, 1},     {0x03FA, 0x03FA, 1, 1},
	{0x03FD, 0x03FF, -130, 1},   {0x0400, 0x040F, 80, 1},     {0x0410, 0x042F, 32, 1},
	{0x0460, 0x0480, 1, 2},      {0x048A, 0x04BE, 1, 2},      {0x04C0, 0x04C0, 15, 1},
	{0x04C1, 0x04CD, 1, 2},      {0x04D0, 0x052E, 1, 2},      {0x0531, 0x0556, 48, 1},
	{0x10A0, 0x10C5, 7264, 1},   {0x10C7, 0x10C7, 7264, 1},   {0x10CD, 0x10CD, 7264, 1},
	{0x13F8, 0x13FD, -8, 1},     {0x1C80, 0x1C80, -6222, 1},  {0x1C81, 0x1C81, -6221, 1},
	{0x1C82, 0x1C82, -6212, 1},  {0x1C83, 0x1C84, -6210, 1},  {0x1C85, 0x1C85, -6211, 1},
	{0x1C86, 0x1C86, -6204, 1},  {0x1C87, 0x1C87, -6180, 1},  {0x1C88, 0x1C88, 35267, 1},
	{0x1C90, 0x1CBA, -3008, 1},  {0x1CBD, 0x1CBF, -3008, 1},  {0x1E00, 0x1E94, 1, 2},
	{0x1E9B, 0x1E9B, -58, 1},    {0x1E9E, 0x1E9E, -7615, 1},  {0x1EA0, 0x1EFE, 1, 2},
	{0x1F08, 0x1F0F, -8, 1},     {0x1F18, 0x1F1D, -8, 1},     {0x1F28, 0x1F2F, -8, 1},
	{0x1F38, 0x1F3F, -8, 1},     {0x1F48, 0x1F4D, -8, 1},     {0x1F59, 0x1F5F, -8, 2},
	{0x1F68, 0x1F6F, -8, 1},     {0x1F88, 0x1F8F, -8, 1},     {0x1F98, 0x1F9F, -8, 1},
	{0x1FA8, 0x1FAF, -8, 1},     {0x1FB8, 0x1FB9, -8, 1},     {0x1FBA, 0x1FBB, -74, 1},
	{0x1FBC, 0x1FBC, -9, 1},     {0x1FBE, 0x1FBE, -7173, 1},  {0x1FC8, 0x1FCB, -86, 1},
	{0x1FCC, 0x1FCC, -9, 1},     {0x1FD8, 0x1FD9, -8, 1},     {0x1FDA, 0x1FDB, -100, 1},
	{0x1FE8, 0x1FE9, -8, 1},     {0x1FEA, 0x1FEB, -112, 1},   {0x1FEC, 0x1FEC, -7, 1},
	{0x1FF8, 0x1FF9, -128, 1},   {0x1FFA, 0x1FFB, -126, 1},   {0x1FFC, 0x1FFC, -9, 1},
	{0x2126, 0x2126, -7517, 1},  {0x212A, 0x212A, -8383, 1},  {0x212B, 0x212B, -8262, 1},
	{0x2132, 0x2132, 28, 1},     {0x2160, 0x216F, 16, 1},     {0x2183, 0x2183, 1, 1},
	{0x24B6, 0x24CF, 26, 1},     {0x2C00, 0x2C2F, 48, 1},     {0x2C60, 0x2C60, 1, 1},
	{0x2C62, 0x2C62, -10743, 1}, {0x2C63, 0x2C63, -3814, 1},  {0x2C64, 0x2C64, -10727, 1},
	{0x2C67, 0x2C6B, 1, 2},      {0x2C6D, 0x2C6D, -10780, 1}, {0x2C6E, 0x2C6E, -10749, 1},
	{0x2C6F, 0x2C6F, -10783, 1}, {0x2C70, 0x2C70, -10782, 1}, {0x2C72, 0x2C72, 1, 1},
	{0x2C75, 0x2C75, 1, 1},      {0x2C7E, 0x2C7F, -10815, 1}, {0x2C80, 0x2CE2, 1, 2},
	{0x2CEB, 0x2CED, 1, 2},      {0x2CF2, 0x2CF2, 1, 1},      {0xA640, 0xA66C, 1, 2},
	{0xA680, 0xA69A, 1, 2},      {0xA722, 0xA72E, 1, 2},      {0xA732, 0xA76E, 1, 2},
	{0xA779, 0xA77B, 1, 2},      {0xA77D, 0xA77D, -35332, 1}, {0xA77E, 0xA786, 1, 2},
	{0xA78B, 0xA78B, 1, 1},      {0xA78D, 0xA78D, -42280, 1}, {0xA790, 0xA792, 1, 2},
	{0xA796, 0xA7A8, 1, 2},      {0xA7AA, 0xA7AA, -42308, 1}, {0xA7AB, 0xA7AB, -42319, 1},
	{0xA7AC, 0xA7AC, -42315, 1}, {0xA7AD, 0xA7AD, -42305, 1}, {0xA7AE, 0xA7AE, -42308, 1},
	{0xA7B0, 0xA7B0, -42258, 1}, {0xA7B1, 0xA7B1, -42282, 1}, {0xA7B2, 0xA7B2, -42261, 1},
	{0xA7B3, 0xA7B3, 928, 1},    {0xA7B4, 0xA7C2, 1, 2},      {0xA7C4, 0xA7C4, -48, 1},
	{0xA7C5, 0xA7C5, -42307, 1}, {0xA7C6, 0xA7C6, -35384, 1}, {0xA7C7, 0xA7C9, 1, 2},
	{0xA7D0, 0xA7D0, 1, 1},      {0xA7D6, 0xA7D8, 1, 2},      {0xA7F5, 0xA7F5, 1, 1},
	{0xAB70, 0xABBF, -38864, 1}, {0xFF21, 0xFF3A, 32, 1},     {0x10400, 0x10427, 40, 1},
	{0x104B0, 0x104D3, 40, 1},   {0x10570, 0x1057A, 39, 1},   {0x1057C, 0x1058A, 39, 1},
	{0x1058C, 0x10592, 39, 1},   {0x10594, 0x10595, 39, 1},   {0x10C80, 0x10CB2, 64, 1},
	{0x118A0, 0x118BF, 32, 1},   {0x16E40, 0x16E5F, 32, 1},   {0x1E900, 0x1E921, 34, 1},
};

struct cp_range {
	uint32_t lo, hi;
};

static const struct cp_range nonword_ranges[] = {
	{0x0080, 0x00A9},   {0x00AB, 0x00B1},   {0x00B4, 0x00B4},   {0x00B6, 0x00B8},
	{0x00BB, 0x00BB},   {0x00BF, 0x00BF},   {0x00D7, 0x00D7},   {0x00F7, 0x00F7},
	{0x02C2, 0x02C5},   {0x02D2, 0x02DF},   {0x02E5, 0x02EB},   {0x02ED, 0x02ED},
	{0x02EF, 0x02FF},   {0x0375, 0x0375},   {0x037E, 0x037E},   {0x0384, 0x0385},
	{0x0387, 0x0387},   {0x03F6, 0x03F6},   {0x0482, 0x0482},   {0x055A, 0x055F},
	{0x0589, 0x058A},   {0x058D, 0x058F},   {0x05BE, 0x05BE},   {0x05C0, 0x05C0},
	{0x05C3, 0x05C3},   {0x05C6, 0x05C6},   {0x05F3, 0x05F4},   {0x0600, 0x060F},
	{0x061B, 0x061F},   {0x066A, 0x066D},   {0x06D4, 0x06D4},   {0x06DD, 0x06DE},
	{0x06E9, 0x06E9},   {0x06FD, 0x06FE},   {0x0700, 0x070D},   {0x070F, 0x070F},
	{0x07F6, 0x07F9},   {0x07FE, 0x07FF},   {0x0830, 0x083E},   {0x085E, 0x085E},
	{0x0888, 0x0888},   {0x0890, 0x0891},   {0x08E2, 0x08E2},   {0x0964, 0x0965},
	{0x0970, 0x0970},   {0x09F2, 0x09F3},   {0x09FA, 0x09FB},   {0x09FD, 0x09FD},
	{0x0A76, 0x0A76},   {0x0AF0, 0x0AF1},   {0x0B70, 0x0B70},   {0x0BF3, 0x0BFA},
	{0x0C77, 0x0C77},   {0x0C7F, 0x0C7F},   {0x0C84, 0x0C84},   {0x0D4F, 0x0D4F},
	{0x0D79, 0x0D79},   {0x0DF4, 0x0DF4},   {0x0E3F, 0x0E3F},   {0x0E4F, 0x0E4F},
	{0x0E5A, 0x0E5B},   {0x0F01, 0x0F17},   {0x0F1A, 0x0F1F},   {0x0F34, 0x0F34},
	{0x0F36, 0x0F36},   {0x0F38, 0x0F38},   {0x0F3A, 0x0F3D},   {0x0F85, 0x0F85},
	{0x0FBE, 0x0FC5},   {0x0FC7, 0x0FCC},   {0x0FCE, 0x0FDA},   {0x104A, 0x104F},
	{0x109E, 0x109F},   {0x10FB, 0x10FB},   {0x1360, 0x1368},   {0x1390, 0x1399},
	{0x1400, 0x1400},   {0x166D, 0x166E},   {0x1680, 0x1680},   {0x169B, 0x169C},
	{0x16EB, 0x16ED},   {0x1735, 0x1736},   {0x17D4, 0x17D6},   {0x17D8, 0x17DB},
	{0x1800, 0x180A},   {0x180E, 0x180E},   {0x1940, 0x1940},   {0x1944, 0x1945},
	{0x19DE, 0x19FF},   {0x1A1E, 0x1A1F},   {0x1AA0, 0x1AA6},   {0x1AA8, 0x1AAD},
	{0x1B5A, 0x1B6A},   {0x1B74, 0x1B7E},   {0x1BFC, 0x1BFF},   {0x1C3B, 0x1C3F},
	{0x1C7E, 0x1C7F},   {0x1CC0, 0x1CC7},   {0x1CD3, 0x1CD3},   {0x1FBD, 0x1FBD},
	{0x1FBF, 0x1FC1},   {0x1FCD, 0x1FCF},   {0x1FDD, 0x1FDF},   {0x1FED, 0x1FEF},
	{0x1FFD, 0x1FFE},   {0x2000, 0x2064},   {0x2066, 0x206F},   {0x207A, 0x207E},
	{0x208A, 0x208E},   {0x20A0, 0x20C0},   {0x2100, 0x2101},   {0x2103, 0x2106},
	{0x2108, 0x2109},   {0x2114, 0x2114},   {0x2116, 0x2118},   {0x211E, 0x2123},
	{0x2125, 0x2125},   {0x2127, 0x2127},   {0x2129, 0x2129},   {0x212E, 0x212E},
	{0x213A, 0x213B},   {0x2140, 0x2144},   {0x214A, 0x214D},   {0x214F, 0x214F},
	{0x218A, 0x218B},   {0x2190, 0x2426},   {0x2440, 0x244A},   {0x249C, 0x24E9},
	{0x2500, 0x2775},   {0x2794, 0x2B73},   {0x2B76, 0x2B95},   {0x2B97, 0x2BFF},
	{0x2CE5, 0x2CEA},   {0x2CF9, 0x2CFC},   {0x2CFE, 0x2CFF},   {0x2D70, 0x2D70},
	{0x2E00, 0x2E2E},   {0x2E30, 0x2E5D},   {0x2E80, 0x2E99},   {0x2E9B, 0x2EF3},
	{0x2F00, 0x2FD5},   {0x2FF0, 0x2FFB},   {0x3000, 0x3004},   {0x3008, 0x3020},
	{0x3030, 0x3030},   {0x3036, 0x3037},   {0x303D, 0x303F},   {0x309B, 0x309C},
	{0x30A0, 0x30A0},   {0x30FB, 0x30FB},   {0x3190, 0x3191},   {0x3196, 0x319F},
	{0x31C0, 0x31E3},   {0x3200, 0x321E},   {0x322A, 0x3247},   {0x3250, 0x3250},
	{0x3260, 0x327F},   {0x328A, 0x32B0},   {0x32C0, 0x33FF},   {0x4DC0, 0x4DFF},
	{0xA490, 0xA4C6},   {0xA4FE, 0xA4FF},   {0xA60D, 0xA60F},   {0xA673, 0xA673},
	{0xA67E, 0xA67E},   {0xA6F2, 0xA6F7},   {0xA700, 0xA716},   {0xA720, 0xA721},
	{0xA789, 0xA78A},   {0xA828, 0xA82B},   {0xA836, 0xA839},   {0xA874, 0xA877},
	{0xA8CE, 0xA8CF},   {0xA8F8, 0xA8FA},   {0xA8FC, 0xA8FC},   {0xA92E, 0xA92F},
	{0xA95F, 0xA95F},   {0xA9C1, 0xA9CD},   {0xA9DE, 0xA9DF},   {0xAA5C, 0xAA5F},
	{0xAA77, 0xAA79},   {0xAADE, 0xAADF},   {0xAAF0, 0xAAF1},   {0xAB5B, 0xAB5B},
	{0xAB6A, 0xAB6B},   {0xABEB, 0xABEB},   {0xFB29, 0xFB29},   {0xFBB2, 0xFBC2},
	{0xFD3E, 0xFD4F},   {0xFDCF, 0xFDCF},   {0xFDFC, 0xFDFF},   {0xFE10, 0xFE19},
	{0xFE30, 0xFE52},   {0xFE54, 0xFE66},   {0xFE68, 0xFE6B},   {0xFEFF, 0xFEFF},
	{0xFF01, 0xFF0F},   {0xFF1A, 0xFF20},   {0xFF3B, 0xFF40},   {0xFF5B, 0xFF65},
	{0xFFE0, 0xFFE6},   {0xFFE8, 0xFFEE},   {0xFFF9, 0xFFFD},   {0x10100, 0x10102},
	{0x10137, 0x1013F}, {0x10179, 0x10189}, {0x1018C, 0x1018E}, {0x10190, 0x1019C},
	{0x101A0, 0x101A0}, {0x101D0, 0x101FC}, {0x1039F, 0x1039F}, {0x103D0, 0x103D0},
	{0x1056F, 0x1056F}, {0x10857, 0x10857}, {0x10877, 0x10878}, {0x1091F, 0x1091F},
	{0x1093F, 0x1093F}, {0x10A50, 0x10A58}, {0x10A7F, 0x10A7F}, {0x10AC8, 0x10AC8},
	{0x10AF0, 0x10AF6}, {0x10B39, 0x10B3F}, {0x10B99, 0x10B9C}, {0x10EAD, 0x10EAD},
	{0x10F55, 0x10F59}, {0x10F86, 0x10F89}, {0x11047, 0x1104D}, {0x110BB, 0x110C1},
	{0x110CD, 0x110CD}, {0x11140, 0x11143}, {0x11174, 0x11175}, {0x111C5, 0x111C8},
	{0x111CD, 0x111CD}, {0x111DB, 0x111DB}, {0x111DD, 0x111DF}, {0x11238, 0x1123D},
	{0x112A9, 0x112A9}, {0x1144B, 0x1144F}, {0x1145A, 0x1145B}, {0x1145D, 0x1145D},
	{0x114C6, 0x114C6}, {0x115C1, 0x115D7}, {0x11641, 0x11643}, {0x11660, 0x1166C},
	{0x116B9, 0x116B9}, {0x1173C, 0x1173F}, {0x1183B, 0x1183B}, {0x11944, 0x11946},
	{0x119E2, 0x119E2}, {0x11A3F, 0x11A46}, {0x11A9A, 0x11A9C}, {0x11A9E, 0x11AA2},
	{0x11C41, 0x11C45}, {0x11C70, 0x11C71}, {0x11EF7, 0x11EF8}, {0x11FD5, 0x11FF1},
	{0x11FFF, 0x11FFF}, {0x12470, 0x12474}, {0x12FF1, 0x12FF2}, {0x13430, 0x13438},
	{0x16A6E, 0x16A6F}, {0x16AF5, 0x16AF5}, {0x16B37, 0x16B3F}, {0x16B44, 0x16B45},
	{0x16E97, 0x16E9A}, {0x16FE2, 0x16FE2}, {0x1BC9C, 0x1BC9C}, {0x1BC9F, 0x1BCA3},
	{0x1CF50, 0x1CFC3}, {0x1D000, 0x1D0F5}, {0x1D100, 0x1D126}, {0x1D129, 0x1D164},
	{0x1D16A, 0x1D16C}, {0x1D173, 0x1D17A}, {0x1D183, 0x1D184}, {0x1D18C, 0x1D1A9},
	{0x1D1AE, 0x1D1EA}, {0x1D200, 0x1D241}, {0x1D245, 0x1D245}, {0x1D300, 0x1D356},
	{0x1D6C1, 0x1D6C1}, {0x1D6DB, 0x1D6DB}, {0x1D6FB, 0x1D6FB}, {0x1D715, 0x1D715},
	{0x1D735, 0x1D735}, {0x1D74F, 0x1D74F}, {0x1D76F, 0x1D76F}, {0x1D789, 0x1D789},
	{0x1D7A9, 0x1D7A9}, {0x1D7C3, 0x1D7C3}, {0x1D800, 0x1D9FF}, {0x1DA37, 0x1DA3A},
	{0x1DA6D, 0x1DA74}, {0x1DA76, 0x1DA83}, {0x1DA85, 0x1DA8B}, {0x1E14F, 0x1E14F},
	{0x1E2FF, 0x1E2FF}, {0x1E95E, 0x1E95F}, {0x1ECAC, 0x1ECAC}, {0x1ECB0, 0x1ECB0},
	{0x1ED2E, 0x1ED2E}, {0x1EEF0, 0x1EEF1}, {0x1F000, 0x1F02B}, {0x1F030, 0x1F093},
	{0x1F0A0, 0x1F0AE}, {0x1F0B1, 0x1F0BF}, {0x1F0C1, 0x1F0CF}, {0x1F0D1, 0x1F0F5},
	{0x1F10D, 0x1F1AD}, {0x1F1E6, 0x1F202}, {0x1F210, 0x1F23B}, {0x1F240, 0x1F248},
	{0x1F250, 0x1F251}, {0x1F260, 0x1F265}, {0x1F300, 0x1F6D7}, {0x1F6DD, 0x1F6EC},
	{0x1F6F0, 0x1F6FC}, {0x1F700, 0x1F773}, {0x1F780, 0x1F7D8}, {0x1F7E0, 0x1F7EB},
	{0x1F7F0, 0x1F7F0}, {0x1F800, 0x1F80B}, {0x1F810, 0x1F847}, {0x1F850, 0x1F859},
	{0x1F860, 0x1F887}, {0x1F890, 0x1F8AD}, {0x1F8B0, 0x1F8B1}, {0x1F900, 0x1FA53},
	{0x1FA60, 0x1FA6D}, {0x1FA70, 0x1FA74}, {0x1FA78, 0x1FA7C}, {0x1FA80, 0x1FA86},
	{0x1FA90, 0x1FAAC}, {0x1FAB0, 0x1FABA}, {0x1FAC0, 0x1FAC5}, {0x1FAD0, 0x1FAD9},
	{0x1FAE0, 0x1FAE7}, {0x1FAF0, 0x1FAF6}, {0x1FB00, 0x1FB92}, {0x1FB94, 0x1FBCA},
	{0xE0001, 0xE0001}, {0xE0020, 0xE007F},
};

/* Scripts written without spaces between words: no boundary needed. */
static const struct cp_range nospace_ranges[] = {
	{0x0E00, 0x0EFF},   /* Thai, Lao */
	{0x1000, 0x109F},   /* Myanmar */
	{0x1780, 0x17FF},   /* Khmer */
	{0x2E80, 0x2FDF},   /* CJK radicals */
	{0x3005, 0x3007},   /* 々 〆 〇 */
	{0x3040, 0x31FF},   /* Hiragana, Katakana, Bopomofo, kana extensions */
	{0x3400, 0x4DBF},   /* CJK extension A */
	{0x4E00, 0x9FFF},   /* CJK unified ideographs */
	{0xF900, 0xFAFF},   /* CJK compatibility ideographs */
	{0xFF66, 0xFF9F},   /* half-width katakana */
	{0x20000, 0x3134F}, /* CJK extensions B-G */
};

static bool in_ranges(const struct cp_range *r, size_t n, uint32_t cp)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cp < r[mid].lo)
			hi = mid;
		else if (cp > r[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* --- UTF-8 ------------------------------------------------------------ */

size_t match_utf8_decode(const char *s, size_t n, uint32_t *cp)
{
	const unsigned char *u = (const unsigned char *)s;
	uint32_t c = u[0], min;
	size_t len;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2, c &= 0x1F, min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3, c &= 0x0F, min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4, c &= 0x07, min = 0x10000;
	} else {
		*cp = 0xFFFD;
		return 1;
	}
	if (n < len) {
		*cp = 0xFFFD;
		return 1;
	}
	for (size_t i = 1; i < len; i++) {
		if ((u[i] & 0xC0) != 0x80) {
			*cp = 0xFFFD;
			return 1;
		}
		c = (c << 6) | (u[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
		*cp = 0xFFFD;
		return 1;
	}
	*cp = c;
	return len;
}

size_t match_utf8_encode(uint32_t cp, char *out)
{
	unsigned char *o = (unsigned char *)out;

	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (unsigned char)(0xC0 | (cp >> 6));
		o[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		cp = 0xFFFD;
	if (cp < 0x10000) {
		o[0] = (unsigned char)(0xE0 | (cp >> 12));
		o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (unsigned char)(0xF0 | (cp >> 18));
	o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

size_t match_utf8_cut(const char *s, size_t len, size_t max)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i;

	if (len <= max)
		return len;
	i = max;
	/* Step back over at most 3 continuation bytes to a lead byte. */
	for (size_t k = 0; k < 3 && i > 0 && (u[i] & 0xC0) == 0x80; k++)
		i--;
	return i;
}

size_t match_utf8_chars(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len;) {
		uint32_t cp;

		if ((unsigned char)s[i] < 0x80) {
			i++;
		} else {
			i += match_utf8_decode(s + i, len - i, &cp);
		}
		n++;
	}
	return n;
}

/* --- character classes ------------------------------------------------ */

uint32_t match_fold_cp(uint32_t cp)
{
	size_t lo = 0, hi = NELEM(fold_runs);

	if (cp < 0x80)
		return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
	if (cp == 0x130)
		return 'i'; /* İ: full folding is i + U+0307; we drop the dot */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct fold_run *r = &fold_runs[mid];

		if (cp < r->lo) {
			hi = mid;
		} else if (cp > r->hi) {
			lo = mid + 1;
		} else {
			if ((cp - r->lo) % r->stride)
				return cp;
			return (uint32_t)((int32_t)cp + r->delta);
		}
	}
	return cp;
}

static const unsigned char ascii_word[128] = {
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
	['8'] = 1, ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
	['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1,
	['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1,
	['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1,
	['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
	['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1,
	['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

bool match_is_word_cp(uint32_t cp)
{
	if (cp < 0x80)
		return ascii_word[cp];
	return !in_ranges(nonword_ranges, NELEM(nonword_ranges), cp);
}

bool match_is_space_cp(uint32_t cp)
{
	switch (cp) {
	case ' ':
	case '\t':
	case '\n':
	case '\v':
	case '\f':
	case '\r':
	case 0xA0:
	case 0x1680:
	case 0x2028:
	case 0x2029:
	case 0x202F:
	case 0x205F:
	case 0x3000:
		return true;
	default:
		return cp >= 0x2000 && cp <= 0x200A;
	}
}

/* Dropped from the folded text: soft hyphen, zero-width space, word
 * joiner, byte order mark. */
static bool is_ignorable_cp(uint32_t cp)
{
	return cp == 0xAD || cp == 0x200B || cp == 0x2060 || cp == 0xFEFF;
}

/* A word character of a script written with spaces: the only kind that
 * needs a boundary. */
static bool needs_boundary(uint32_t cp)
{
	if (cp < 0x80)
		return ascii_word[cp];
	if (in_ranges(nospace_ranges, NELEM(nospace_ranges), cp))
		return false;
	return match_is_word_cp(cp);
}

/* --- folding ---------------------------------------------------------- */

/* Folded bytes never exceed 3/2 of the source (a 2-byte letter may fold to
 * a 3-byte one; invalid bytes become the 1-byte 0x1A). */
#define FOLD_CAP(n) ((n) + (n) / 2 + 8)

static const unsigned char ascii_space[128] = {
	[' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\v'] = 1, ['\f'] = 1, ['\r'] = 1,
};

/* Fold src[0..n) into out (FOLD_CAP(n) bytes); when map is not NULL,
 * map[i] is the source offset of folded byte i and map[len] = n.  Returns
 * the folded length. */
static size_t fold_into(const char *src, size_t n, char *out, uint32_t *map)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t o = 0;
	bool space = false;

	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		uint32_t cp, f;
		size_t l;

		if (c < 0x80) {
			if (ascii_space[c]) {
				if (!space) {
					if (map)
						map[o] = (uint32_t)i;
					out[o++] = ' ';
					space = true;
				}
			} else {
				if (map)
					map[o] = (uint32_t)i;
				out[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
				space = false;
			}
			i++;
			continue;
		}
		l = match_utf8_decode(src + i, n - i, &cp);
		if (cp == 0xFFFD && l == 1) {
			if (map)
				map[o] = (uint32_t)i;
			out[o++] = 0x1A;
			space = false;
		} else if (match_is_space_cp(cp)) {
			if (!space) {
				if (map)
					map[o] = (uint32_t)i;
				out[o++] = ' ';
				space = true;
			}
		} else if (!is_ignorable_cp(cp)) {
			char enc[4];
			size_t el;

			f = match_fold_cp(cp);
			if (f == 0xDF) {
				enc[0] = enc[1] = 's';
				el = 2;
			} else {
				el = match_utf8_encode(f, enc);
			}
			for (size_t k = 0; k < el; k++) {
				if (map)
					map[o] = (uint32_t)i;
				out[o++] = enc[k];
			}
			space = false;
		}
		i += l;
	}
	if (map)
		map[o] = (uint32_t)n;
	out[o] = '\0';
	return o;
}

char *match_fold(const char *s, size_t len)
{
	char *out = xmalloc(FOLD_CAP(len));

	fold_into(s, len, out, NULL);
	return out;
}

/* --- the set ---------------------------------------------------------- */

struct keyword {
	char *orig;
	char *folded; /* trimmed; empty = never matches */
	size_t len;
	bool bound_start, bound_end;
};

struct match_set {
	size_t n;
	unsigned flags;
	struct keyword *kw;
};

/* Code point that ends at s[end) (end > 0), read backwards. */
static uint32_t cp_before(const char *s, size_t end)
{
	size_t b = end - 1;
	uint32_t cp;

	for (int k = 0; k < 3 && b > 0 && ((unsigned char)s[b] & 0xC0) == 0x80; k++)
		b--;
	if (match_utf8_decode(s + b, end - b, &cp) != end - b)
		return 0xFFFD;
	return cp;
}

struct match_set *match_set_new(const char *const *keywords, size_t n, unsigned flags)
{
	struct match_set *set = xcalloc(1, sizeof(*set));

	set->n = n;
	set->flags = flags;
	set->kw = xcalloc(n ? n : 1, sizeof(*set->kw));
	for (size_t i = 0; i < n; i++) {
		struct keyword *k = &set->kw[i];
		const char *src = keywords[i] ? keywords[i] : "";
		size_t sl = match_utf8_cut(src, strlen(src), MATCH_KEYWORD_MAX);
		char *f = xmalloc(FOLD_CAP(sl));
		size_t fl = fold_into(src, sl, f, NULL), start = 0;
		uint32_t cp;

		while (start < fl && f[start] == ' ')
			start++;
		while (fl > start && f[fl - 1] == ' ')
			fl--;
		memmove(f, f + start, fl - start);
		fl -= start;
		f[fl] = '\0';
		k->orig = xstrdup(src);
		k->folded = f;
		k->len = fl;
		if (fl && !(flags & MATCH_SUBSTRING)) {
			match_utf8_decode(f, fl, &cp);
			k->bound_start = needs_boundary(cp);
			k->bound_end = needs_boundary(cp_before(f, fl));
		}
	}
	return set;
}

void match_set_free(struct match_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++) {
		free(set->kw[i].orig);
		free(set->kw[i].folded);
	}
	free(set->kw);
	free(set);
}

size_t match_set_count(const struct match_set *set)
{
	return set ? set->n : 0;
}

const char *match_set_keyword(const struct match_set *set, size_t i)
{
	return set && i < set->n ? set->kw[i].orig : NULL;
}

/* --- scanning --------------------------------------------------------- */

struct folded {
	char *s;
	size_t len;
	uint32_t *map;
};

static void fold_text(const char *text, size_t len, struct folded *f)
{
	if (len > MATCH_TEXT_MAX)
		len = match_utf8_cut(text, len, MATCH_TEXT_MAX);
	f->s = xmalloc(FOLD_CAP(len));
	f->map = xmalloc((FOLD_CAP(len) + 1) * sizeof(uint32_t));
	f->len = fold_into(text, len, f->s, f->map);
}

static void folded_free(struct folded *f)
{
	free(f->s);
	free(f->map);
}

static bool boundary_ok(const struct folded *f, const struct keyword *k, size_t at)
{
	uint32_t cp;

	if (k->bound_start && at > 0 && needs_boundary(cp_before(f->s, at)))
		return false;
	if (k->bound_end && at + k->len < f->len) {
		match_utf8_decode(f->s + at + k->len, f->len - at - k->len, &cp);
		if (needs_boundary(cp))
			return false;
	}
	return true;
}

static void scan_folded(const struct match_set *set, const char *text, const struct folded *f,
			match_fn fn, void *ctx)
{
	(void)text;
	for (size_t i = 0; i < set->n; i++) {
		const struct keyword *k = &set->kw[i];
		size_t pos = 0;

		if (!k->len)
			continue;
		while (pos + k->len <= f->len) {
			const char *h = memmem(f->s + pos, f->len - pos, k->folded, k->len);
			size_t at;

			if (!h)
				break;
			at = (size_t)(h - f->s);
			if (boundary_ok(f, k, at)) {
				if (!fn(ctx, i, f->map[at], f->map[at + k->len]))
					return;
				pos = at + k->len;
			} else {
				pos = at + 1;
			}
		}
	}
}

void match_scan(const struct match_set *set, const char *text, size_t len, match_fn fn, void *ctx)
{
	struct folded f;

	if (!set || !set->n || !text)
		return;
	fold_text(text, len, &f);
	scan_folded(set, text, &f, fn, ctx);
	folded_free(&f);
}

/* --- match_find: verdict and snippets ---------------------------------- */

#define HITS_KEPT 4096 /* occurrences remembered for snippets */
#define SNIP_SIDE 110  /* bytes of context on each side, about */
#define SNIP_SNAP 30   /* how far to move to a space instead of cutting a word */

struct hit {
	size_t kw, start, end;
};

struct find_ctx {
	bool *seen;
	size_t *first; /* index into hits of each keyword's first occurrence */
	struct hit *hits;
	size_t n_hits, cap, total;
};

static bool collect(void *p, size_t kw, size_t start, size_t end)
{
	struct find_ctx *c = p;

	c->total++;
	if (!c->seen[kw]) {
		c->seen[kw] = true;
		c->first[kw] = c->n_hits < HITS_KEPT ? c->n_hits : SIZE_MAX;
	}
	if (c->n_hits < HITS_KEPT) {
		if (c->n_hits == c->cap) {
			c->cap = c->cap ? c->cap * 2 : 16;
			c->hits = xrealloc(c->hits, c->cap * sizeof(*c->hits));
		}
		c->hits[c->n_hits++] = (struct hit){kw, start, end};
	}
	return true;
}

static bool is_sentence_end(const char *t, size_t len, size_t i)
{
	/* t[i] is '.', '!' or '?' followed by white space or the end */
	return (t[i] == '.' || t[i] == '!' || t[i] == '?') &&
	       (i + 1 >= len || t[i + 1] == ' ' || t[i + 1] == '\n' || t[i + 1] == '\t');
}

/* Append t[s..e) to b as valid UTF-8 (invalid bytes as U+FFFD), runs of
 * spaces and control characters (newlines, tabs, NUL) as one space. */
static size_t put_valid(char *b, const char *t, size_t s, size_t e)
{
	size_t o = 0;

	for (size_t i = s; i < e;) {
		unsigned char c = (unsigned char)t[i];
		uint32_t cp;
		size_t l;

		if (c < 0x80) {
			if (c <= 0x20 || c == 0x7F) {
				if (o == 0 || b[o - 1] != ' ')
					b[o++] = ' ';
			} else {
				b[o++] = (char)c;
			}
			i++;
			continue;
		}
		l = match_utf8_decode(t + i, e - i, &cp);
		if (cp == 0xFFFD && l == 1)
			o += match_utf8_encode(0xFFFD, b + o);
		else
			memcpy(b + o, t + i, l), o += l;
		i += l;
	}
	return o;
}

static bool at_sentence_start(const char *t, size_t len, size_t s)
{
	return s == 0 || t[s - 1] == '\n' || (s >= 2 && is_sentence_end(t, len, s - 2));
}

/* The snippet around [start, end): the sentence within the line, or about
 * SNIP_SIDE bytes on each side (snapped to a space), whole characters. */
static void snippet_range(const char *t, size_t len, size_t start, size_t end, size_t *ps,
			  size_t *pe, bool *cut_s, bool *cut_e)
{
	size_t s = start, e = end, lim;
	bool natural = false;

	lim = start > SNIP_SIDE ? start - SNIP_SIDE : 0;
	while (s > lim && !at_sentence_start(t, len, s))
		s--;
	*cut_s = !at_sentence_start(t, len, s);
	if (*cut_s) {
		for (size_t k = s; k < start && k < s + SNIP_SNAP; k++) {
			if (t[k] == ' ') {
				s = k + 1;
				break;
			}
		}
	}
	while (s < start && (t[s] == ' ' || t[s] == '\t'))
		s++;
	while (s < start && ((unsigned char)t[s] & 0xC0) == 0x80)
		s++;

	lim = len - end > SNIP_SIDE ? end + SNIP_SIDE : len;
	while (e < lim) {
		if (t[e] == '\n') {
			natural = true;
			break;
		}
		if (is_sentence_end(t, len, e)) {
			e++;
			natural = true;
			break;
		}
		e++;
	}
	*cut_e = !natural && e < len;
	if (*cut_e) {
		for (size_t k = e; k > end && k + SNIP_SNAP > e; k--) {
			if (t[k - 1] == ' ') {
				e = k - 1;
				break;
			}
		}
	}
	while (e > end && (t[e - 1] == ' ' || t[e - 1] == '\t' || t[e - 1] == '\r'))
		e--;
	e = start + match_utf8_cut(t + start, len - start, e - start);
	*ps = s;
	*pe = e;
}

static bool overlaps(const struct match_result *r, const size_t *ranges, size_t s, size_t e)
{
	for (size_t i = 0; i < r->n_snippets; i++)
		if (s < ranges[2 * i + 1] && ranges[2 * i] < e)
			return true;
	return false;
}

static void add_snippet(struct match_result *r, size_t *ranges, const char *t, size_t len,
			const struct hit *h)
{
	size_t s, e, o = 0;
	bool cs, ce;
	char *b;

	snippet_range(t, len, h->start, h->end, &s, &e, &cs, &ce);
	if (overlaps(r, ranges, s, e))
		return;
	b = xmalloc((e - s) * 3 + 8);
	if (cs)
		memcpy(b, "\xe2\x80\xa6", 3), o = 3;
	o += put_valid(b + o, t, s, e);
	if (ce)
		memcpy(b + o, "\xe2\x80\xa6", 3), o += 3;
	b[o] = '\0';
	ranges[2 * r->n_snippets] = s;
	ranges[2 * r->n_snippets + 1] = e;
	r->snippets[r->n_snippets++] = (struct match_snippet){b, h->kw, h->start, h->end};
}

static int cmp_hit(const void *a, const void *b)
{
	const struct hit *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static int cmp_snippet(const void *a, const void *b)
{
	const struct match_snippet *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

void match_find(const struct match_set *set, const char *text, size_t len, enum match_mode mode,
		size_t max_snippets, struct match_result *out)
{
	struct find_ctx c = {0};
	size_t *ranges;
	struct folded f;

	memset(out, 0, sizeof(*out));
	if (!set || !set->n) {
		out->matched = true;
		return;
	}
	if (!text)
		text = "", len = 0;
	c.seen = xcalloc(set->n, sizeof(bool));
	c.first = xcalloc(set->n, sizeof(size_t));
	fold_text(text, len, &f);
	if (len > MATCH_TEXT_MAX)
		len = f.map[f.len];
	scan_folded(set, text, &f, collect, &c);
	folded_free(&f);

	out->found = xmalloc(set->n * sizeof(size_t));
	for (size_t i = 0; i < set->n; i++)
		if (c.seen[i])
			out->found[out->n_found++] = i;
	out->hits = c.total;
	out->matched = mode == MATCH_ALL ? out->n_found == set->n : out->n_found > 0;

	if (max_snippets > c.n_hits)
		max_snippets = c.n_hits;
	out->snippets = xcalloc(max_snippets ? max_snippets : 1, sizeof(*out->snippets));
	ranges = xmalloc((max_snippets ? max_snippets : 1) * 2 * sizeof(size_t));
	/* The first occurrence of each keyword first... */
	for (size_t i = 0; i < set->n && out->n_snippets < max_snippets; i++)
		if (c.seen[i] && c.first[i] != SIZE_MAX)
			add_snippet(out, ranges, text, len, &c.hits[c.first[i]]);
	/* ...then the others, in text order. */
	if (out->n_snippets < max_snippets) {
		qsort(c.hits, c.n_hits, sizeof(*c.hits), cmp_hit);
		for (size_t i = 0; i < c.n_hits && out->n_snippets < max_snippets; i++)
			add_snippet(out, ranges, text, len, &c.hits[i]);
	}
	qsort(out->snippets, out->n_snippets, sizeof(*out->snippets), cmp_snippet);
	free(ranges);
	free(c.seen);
	free(c.first);
	free(c.hits);
}

void match_result_cleanup(struct match_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_snippets; i++)
		free(r->snippets[i].text);
	free(r->snippets);
	free(r->found);
	memset(r, 0, sizeof(*r));
}

size_t match_result_keywords(const struct match_set *set, const struct match_result *r,
			     const char **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n_found && n < max; i++)
		out[n++] = match_set_keyword(set, r->found[i]);
	return n;
}
