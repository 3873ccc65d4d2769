# cmake --install: the programs, the SentencePiece plugin and the shipped data, laid out so
# that an installed copy finds its data relative to itself (core/io/shippeddata.h,
# sentencepiecetokenizer.cpp) under any prefix:
#   bin/attnviz, bin/attnviz-cli
#   lib/attnviz/plugins/libattnviz_sentencepiece.so (a folder of its own: no ldconfig for a plugin)
#   share/attnviz/{models, samples, scenes, labels}
#   share/applications, share/icons/hicolor, share/metainfo, share/man/man1 (the GUI's files and the manual pages)
# Two components: "cli" (everything a headless node needs) and "gui" (the window and its
# desktop integration); cpack makes one Debian package of each (AttnvizPackage.cmake).
include(GNUInstallDirs)

install(TARGETS attnviz-cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT cli)
install(TARGETS attnviz_sentencepiece LIBRARY DESTINATION lib/attnviz/plugins COMPONENT cli)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/models/ DESTINATION ${CMAKE_INSTALL_DATADIR}/attnviz/models COMPONENT cli)
foreach(folder samples scenes labels)
    install(DIRECTORY ${PROJECT_SOURCE_DIR}/resources/${folder}/
            DESTINATION ${CMAKE_INSTALL_DATADIR}/attnviz/${folder} COMPONENT cli)
endforeach()

# Manual pages written by help2man from the programs' own --help and --version, so the
# help is written once. Without help2man the build goes on without them; the sanitizer
# presets leave them out (help2man would run the instrumented programs).
option(ATTNVIZ_BUILD_MANUAL_PAGES "Write the manual pages with help2man" ON)
find_program(ATTNVIZ_HELP2MAN help2man)
function(attnviz_manual_page target summary component)
    if(NOT ATTNVIZ_BUILD_MANUAL_PAGES OR NOT ATTNVIZ_HELP2MAN)
        return()
    endif()
    set(page ${CMAKE_BINARY_DIR}/man/${target}.1)
    add_custom_command(OUTPUT ${page}.gz
        COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
        COMMAND ${CMAKE_COMMAND} -E env QT_QPA_PLATFORM=offscreen
                ${ATTNVIZ_HELP2MAN} --no-info --no-discard-stderr --section=1 --name=${summary}
                --output=${page} $<TARGET_FILE:${target}>
        COMMAND gzip -9nf ${page}
        DEPENDS ${target}
        COMMENT "Writing the manual page of ${target}")
    add_custom_target(${target}_manual ALL DEPENDS ${page}.gz)
    install(FILES ${page}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT ${component})
endfunction()
attnviz_manual_page(attnviz-cli "explain what vision models look at, from the command line" cli)

if(ATTNVIZ_BUILD_GUI)
    install(TARGETS attnviz RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT gui)
    install(FILES ${PROJECT_SOURCE_DIR}/resources/attnviz.desktop
            DESTINATION ${CMAKE_INSTALL_DATADIR}/applications COMPONENT gui)
    install(FILES ${PROJECT_SOURCE_DIR}/resources/io.github.attnviz.attnviz.metainfo.xml
            DESTINATION ${CMAKE_INSTALL_DATADIR}/metainfo COMPONENT gui)
    install(FILES ${PROJECT_SOURCE_DIR}/resources/icons/attnviz.svg
            DESTINATION ${CMAKE_INSTALL_DATADIR}/icons/hicolor/scalable/apps COMPONENT gui)
    attnviz_manual_page(attnviz "see what a Vision Transformer and a CNN look at, side by side" gui)
endif()
