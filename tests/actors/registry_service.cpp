#include "actors/registry_service.hpp"

#include <doctest/doctest.h>
