#ifndef TFLOCK_VERSION_H
#define TFLOCK_VERSION_H
#include "config.h"
#define TFLOCK_VERSION PACKAGE_VERSION
#endif
