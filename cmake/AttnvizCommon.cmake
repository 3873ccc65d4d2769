# Settings every attnviz target links through attnviz_common (never global flags).
add_library(attnviz_common INTERFACE)
target_compile_features(attnviz_common INTERFACE cxx_std_17)
target_include_directories(attnviz_common INTERFACE ${PROJECT_SOURCE_DIR})
target_compile_options(attnviz_common INTERFACE
    $<$<CXX_COMPILER_ID:GNU,Clang>:-Wall -Wextra -Wpedantic>)
target_compile_definitions(attnviz_common INTERFACE
    ATTNVIZ_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    QT_NO_CAST_FROM_ASCII
    QT_DISABLE_DEPRECATED_UP_TO=0x060400)
set(CMAKE_CXX_EXTENSIONS OFF)

# attnviz_moc_without_pch(TARGET): TARGET's sources include their own .moc, so AUTOMOC's
# mocs_compilation.cpp is empty; without this it would load the LibTorch PCH (~5 s of CPU)
# all the same. Not for a target whose headers need moc (attnviz_ui): those need the PCH.
function(attnviz_moc_without_pch target)
    get_target_property(binary_dir ${target} BINARY_DIR)
    set_source_files_properties(${binary_dir}/${target}_autogen/mocs_compilation.cpp
        TARGET_DIRECTORY ${target} PROPERTIES SKIP_PRECOMPILE_HEADERS ON)
endfunction()

# Qt Test executables registered with CTest: attnviz_add_qtest(NAME SOURCES .. LIBS ..)
function(attnviz_add_qtest name)
    cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;ENVIRONMENT;LABELS" ${ARGN})
    add_executable(${name} ${ARG_SOURCES})
    target_link_libraries(${name} PRIVATE attnviz_common Qt6::Test ${ARG_LIBS})
    set_target_properties(${name} PROPERTIES AUTOMOC ON
        RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
    attnviz_moc_without_pch(${name})
    add_test(NAME ${name} COMMAND ${name})
    set_tests_properties(${name} PROPERTIES
        ENVIRONMENT "QT_QPA_PLATFORM=offscreen;${ARG_ENVIRONMENT}"
        LABELS "${ARG_LABELS}")
endfunction()

# attnviz_unity_build(TARGET BATCH): with ATTNVIZ_UNITY_BUILD, TARGET's sources compile BATCH
# at a time (CMake's UNITY_BUILD, batch mode): each translation unit pays once for the LibTorch
# PCH and the templates its sources share. Helpers in anonymous namespaces must differ in name
# within a target; a source that cannot share a unit gets SKIP_UNITY_BUILD_INCLUSION.
function(attnviz_unity_build target batch)
    if(ATTNVIZ_UNITY_BUILD)
        set_target_properties(${target} PROPERTIES
            UNITY_BUILD ON UNITY_BUILD_MODE BATCH UNITY_BUILD_BATCH_SIZE ${batch})
    endif()
endfunction()
