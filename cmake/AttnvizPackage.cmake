# cpack -G DEB (from a build folder): one Debian package per install component.
#   attnviz-cli  the command line, the SentencePiece plugin, the shipped models and images, its
#                manual page: all a GPU or cluster node needs (the headless preset makes it
#                alone, as attnviz-cli-headless: no OpenCV, so inputs as tensors)
#   attnviz      the window, its desktop entry, icon, AppStream metainfo and manual page;
#                depends on attnviz-cli of the same version
# Library dependencies are computed by dpkg-shlibdeps. Each package carries the Debian
# copyright file and changelog that lintian asks for.
set(CPACK_PACKAGE_NAME attnviz)
set(CPACK_PACKAGE_VENDOR "the attnviz developers")
# The maintainer field: the project has no mail address yet, so a placeholder a build can replace.
set(ATTNVIZ_PACKAGE_CONTACT "attnviz developers <attnviz@example.org>" CACHE STRING "the packages' Maintainer")
set(CPACK_PACKAGE_CONTACT "${ATTNVIZ_PACKAGE_CONTACT}")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_STRIP_FILES ON)
# dpkg-shlibdeps looks for the plugin's own library beside it: the plugin is no dependency.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${CMAKE_BINARY_DIR}/bin)

set(ATTNVIZ_CLI_PACKAGE attnviz-cli)
if(NOT ATTNVIZ_BUILD_IMAGING)
    # the headless preset: no OpenCV, so no image decoding; the same files, another package
    set(ATTNVIZ_CLI_PACKAGE attnviz-cli-headless)
    set(CPACK_DEBIAN_CLI_PACKAGE_CONFLICTS attnviz-cli)
    set(CPACK_DEBIAN_CLI_PACKAGE_REPLACES attnviz-cli)
endif()
set(CPACK_DEBIAN_CLI_PACKAGE_NAME ${ATTNVIZ_CLI_PACKAGE})
# The first line is the package's summary.
set(CPACK_DEBIAN_CLI_DESCRIPTION "explain what vision models look at, from the command line
attnviz-cli runs Vision Transformers and CNNs (torchvision, timm,
Hugging Face, open_clip, DINOv2, BEiT and SigLIP checkpoints, read
without Python) and writes their attention maps, rollout, Grad-CAM and
attribution maps, receptive fields and audits of the maps against
object masks, for single images or sharded folders of them.")
if(NOT ATTNVIZ_BUILD_IMAGING)
    string(APPEND CPACK_DEBIAN_CLI_DESCRIPTION "
This build has no image decoding (no OpenCV): inputs are given as
tensors (--tensor FILE.safetensors), as on a node that only computes.")
endif()
set(CPACK_DEBIAN_GUI_PACKAGE_NAME attnviz)
set(CPACK_DEBIAN_GUI_PACKAGE_DEPENDS "attnviz-cli (= ${PROJECT_VERSION}-1)")
set(CPACK_DEBIAN_GUI_DESCRIPTION "see what a Vision Transformer and a CNN look at, side by side
attnviz loads an image, runs a Vision Transformer and a CNN on it and
overlays per-layer, per-head attention maps, Grad-CAM and attribution
maps and receptive fields onto it; every layer and head is a keystroke
away and every map exports as PNG.")
set(CPACK_COMPONENTS_ALL cli)
if(ATTNVIZ_BUILD_GUI)
    list(APPEND CPACK_COMPONENTS_ALL gui)
endif()

# /usr/share/doc/<package>/{copyright, changelog.Debian.gz}
foreach(component cli gui)
    set(package ${ATTNVIZ_CLI_PACKAGE})
    if(component STREQUAL gui)
        set(package attnviz)
    endif()
    set(ATTNVIZ_DEB_PACKAGE ${package})
    set(docs ${CMAKE_BINARY_DIR}/debian/${package})
    configure_file(${PROJECT_SOURCE_DIR}/resources/debian/changelog.in ${docs}/changelog.Debian @ONLY)
    add_custom_command(OUTPUT ${docs}/changelog.Debian.gz
        COMMAND gzip -9nf -k ${docs}/changelog.Debian
        DEPENDS ${docs}/changelog.Debian)
    add_custom_target(attnviz_deb_changelog_${component} ALL DEPENDS ${docs}/changelog.Debian.gz)
    install(FILES ${PROJECT_SOURCE_DIR}/resources/debian/copyright ${docs}/changelog.Debian.gz
            DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/${package} COMPONENT ${component} EXCLUDE_FROM_ALL)
endforeach()

include(CPack)
