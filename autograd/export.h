/* export.h: what makes a declaration part of tapegrad's API, and which precision a program was
 * compiled for. Every public header includes it (through tensor.h, or directly).
 *
 * The library is compiled with hidden visibility (meson's gnu_symbol_visibility), so nothing it
 * defines is seen outside libtapegrad.so unless a public header declares it between
 * TG_BEGIN_DECLS and TG_END_DECLS: those two macros open and close C linkage for C++ and mark
 * every declaration between them as exported (Lua's LUA_API, applied to a whole header, so a
 * function added to a public header is exported without a second edit). Internal `tgi_` names
 * live in internal headers and stay hidden; so do BLIS's symbols, which the shared library
 * embeds (--exclude-libs). tests/tools/check_exports.py compares `nm -D` with the headers.
 *
 * The two precisions export the same names with different types (tg_real is float or double),
 * so every translation unit that includes a public header references one precision-tagged
 * symbol, which only the library of that precision defines. A program compiled without
 * -DTG_DOUBLE and linked with tapegrad-f64 then fails to link with
 *   undefined reference to `tg_precision_f32_link_tapegrad'
 * and the converse names tg_precision_f64_link_tapegrad_f64. Defined in autograd/export.c.
 */
#ifndef TG_EXPORT_H
#define TG_EXPORT_H

#if defined(__GNUC__)
#define TGI_EXPORT_PUSH _Pragma("GCC visibility push(default)")
#define TGI_EXPORT_POP  _Pragma("GCC visibility pop")
#else
#define TGI_EXPORT_PUSH
#define TGI_EXPORT_POP
#endif

/* clang-format off */
#ifdef __cplusplus
#define TG_BEGIN_DECLS extern "C" { TGI_EXPORT_PUSH
#define TG_END_DECLS   TGI_EXPORT_POP }
#else
#define TG_BEGIN_DECLS TGI_EXPORT_PUSH
#define TG_END_DECLS   TGI_EXPORT_POP
#endif
/* clang-format on */

TG_BEGIN_DECLS

#ifdef TG_DOUBLE
extern const int tg_precision_f64_link_tapegrad_f64;
#define TGI_PRECISION_TAG tg_precision_f64_link_tapegrad_f64
#else
extern const int tg_precision_f32_link_tapegrad;
#define TGI_PRECISION_TAG tg_precision_f32_link_tapegrad
#endif

#if defined(__GNUC__)
/* The reference: kept by `used` although nothing reads it. */
static const int *const tgi_precision_ref __attribute__((used)) = &TGI_PRECISION_TAG;
#endif

TG_END_DECLS

#endif
