# Debian package: cpack -G DEB in a build directory (after building esfs).
set(CPACK_PACKAGE_NAME esfs)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "esfs developers <dev@esfs.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "event store whose interface is a filesystem")
set(CPACK_DEBIAN_PACKAGE_DEPENDS "fuse3, libfuse3-3, libxxhash0, libzstd1")
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
include(CPack)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/esfs@.service DESTINATION lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/filesystem.md
              ${PROJECT_SOURCE_DIR}/docs/format.md ${PROJECT_SOURCE_DIR}/docs/recovery.md
              ${PROJECT_SOURCE_DIR}/docs/architecture.md
        DESTINATION share/doc/esfs OPTIONAL)
