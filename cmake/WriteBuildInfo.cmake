# Run at every build (cmake -P): writes OUT, the version and the git commit the program is
# built from, rewriting it only when they change so that nothing is recompiled otherwise.
# Inputs: SOURCE_DIR, OUT, VERSION.
set(ATTNVIZ_COMMIT "unknown")
find_package(Git QUIET)
if(GIT_FOUND AND EXISTS "${SOURCE_DIR}/.git")
    execute_process(COMMAND "${GIT_EXECUTABLE}" rev-parse --short=12 HEAD
                    WORKING_DIRECTORY "${SOURCE_DIR}" OUTPUT_VARIABLE commit
                    OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE failed)
    if(NOT failed AND commit)
        set(ATTNVIZ_COMMIT "${commit}")
        # tracked files changed since that commit: say so, the binary is not the commit
        execute_process(COMMAND "${GIT_EXECUTABLE}" status --porcelain --untracked-files=no
                        WORKING_DIRECTORY "${SOURCE_DIR}" OUTPUT_VARIABLE changes ERROR_QUIET)
        if(changes)
            string(APPEND ATTNVIZ_COMMIT " with local changes")
        endif()
    endif()
endif()
set(ATTNVIZ_VERSION "${VERSION}")
configure_file("${CMAKE_CURRENT_LIST_DIR}/buildinfo.cpp.in" "${OUT}" @ONLY)
