#pragma once

// The C interface of the attnviz_sentencepiece plugin, a small shared library around
// Debian's libsentencepiece that SentencePieceTokenizer loads with dlopen.
//
// Why a plugin: libsentencepiece carries its own copy of protobuf-lite (3.14) and exports
// it, while LibTorch loads libprotobuf 3.21. Linked into one program, the two copies
// resolve to each other and the program aborts at start ("compiled against version
// 3.14.0 of the Protocol Buffer runtime library, which is not compatible with the
// installed version"). The plugin is loaded into a namespace of its own (dlmopen with
// LM_ID_NEWLM), where libsentencepiece sees only its own copy and nothing else sees it.
// (RTLD_DEEPBIND would isolate it too, but AddressSanitizer refuses it.) Only plain
// integers and characters cross the interface, so the two namespaces' C++ runtimes never
// share an object.

#ifdef __cplusplus
extern "C" {
#endif

// A processor for the model at `path`, or null with a one-line reason in `error`.
void* attnviz_spm_load(const char* path, char* error, int errorSize);
void attnviz_spm_free(void* processor);
// The ids of `text` (UTF-8): their count, written into ids[0 .. min(count, capacity));
// -1 with a reason in `error` when SentencePiece fails.
int attnviz_spm_encode(const void* processor, const char* text, int* ids, int capacity, char* error, int errorSize);
int attnviz_spm_end_id(const void* processor);
int attnviz_spm_size(const void* processor);

#ifdef __cplusplus
}
#endif
