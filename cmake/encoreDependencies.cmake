# The packages that encore's public headers and link need, in one list read twice: by CMakeLists.txt
# (each one REQUIRED) and by the installed encoreConfig.cmake (each a find_dependency), so the build
# and its consumers cannot drift apart. Adding a dependency is one line here (plus its target in
# encore_lib's target_link_libraries); tools only the build uses (CLI11, GTest) stay in CMakeLists.txt.
#   encore_find_package(<find_package arguments>)
#   encore_find_pkg_config(<PREFIX> <module>...)   -> the imported target PkgConfig::<PREFIX>
encore_find_package(OpenMP)
encore_find_package(Eigen3 3.3 NO_MODULE)
encore_find_package(fmt)
encore_find_package(nlohmann_json 3)
encore_find_pkg_config(XXHASH libxxhash)
encore_find_pkg_config(UTF8PROC libutf8proc)
encore_find_package(SQLite3)
encore_find_pkg_config(HTTPLIB cpp-httplib)
encore_find_pkg_config(PQXX libpqxx libpq)
