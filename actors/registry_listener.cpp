#include "actors/registry_listener.hpp"
