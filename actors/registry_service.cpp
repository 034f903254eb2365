#include "actors/registry_service.hpp"
