# ctest: every public header compiles on its own (self-contained) with -Wall -Wextra -Werror
# under the given compiler. -D COMPILER=<c++ compiler> -D INCLUDE_DIR=<cpp/include>
# -D WORK_DIR=<scratch>
file(GLOB headers RELATIVE "${INCLUDE_DIR}" "${INCLUDE_DIR}/ember/*.h")
file(MAKE_DIRECTORY "${WORK_DIR}")
foreach(header ${headers})
  string(MAKE_C_IDENTIFIER "${header}" stem)
  set(source "${WORK_DIR}/${stem}.cpp")
  file(WRITE "${source}" "#include \"${header}\"\n")
  execute_process(COMMAND "${COMPILER}" -std=c++17 -Wall -Wextra -Werror -pedantic
                  -fsyntax-only "-I${INCLUDE_DIR}" "${source}"
                  RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${header} does not compile alone with ${COMPILER}:\n${err}")
  endif()
endforeach()
list(LENGTH headers count)
message(STATUS "${count} public headers compile alone with ${COMPILER}")
